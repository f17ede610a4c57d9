// Command dexserver runs a real Dex OIDC identity provider (github.com/dexidp/dex
// v2.45.1) in-process, for Gatehouse's token-verifier integration tests. It uses
// in-memory storage, Dex's local RS256 signer, one static confidential client and
// static passwords with the password grant enabled. It prints "READY <issuer>" on
// stdout once discovery is served, logs to stderr and exits 0 on SIGTERM/SIGINT.
//
//	dexserver -listen 127.0.0.1:5556 -issuer http://127.0.0.1:5556/dex \
//	  -client-id gatehouse-test -client-secret s3cret \
//	  -password-user 'alice@example.com:pw:network-engineers+admins,bob@example.com:pw'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	gosundheit "github.com/AppsFlyer/go-sundheit"
	"github.com/dexidp/dex/server"
	"github.com/dexidp/dex/server/signer"
	"github.com/dexidp/dex/storage"
	"github.com/dexidp/dex/storage/memory"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5556", "address to listen on")
	issuer := flag.String("issuer", "http://127.0.0.1:5556/dex", "issuer URL")
	clientID := flag.String("client-id", "gatehouse-test", "static client id")
	clientSecret := flag.String("client-secret", "", "static client secret")
	users := flag.String("password-user", "", "comma-separated email:password[:group1+group2] entries")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, *listen, *issuer, *clientID, *clientSecret, *users); err != nil {
		logger.Error("dexserver failed", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, listen, issuer, clientID, clientSecret, users string) error {
	if clientSecret == "" || users == "" {
		return errors.New("-client-secret and -password-user are required")
	}
	var passwords []storage.Password
	for _, entry := range strings.Split(users, ",") {
		parts := strings.SplitN(entry, ":", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("bad -password-user entry %q, want email:password[:groups]", entry)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(parts[1]), bcrypt.DefaultCost)
		if err != nil {
			return err
		}
		p := storage.Password{Email: parts[0], Hash: hash, UserID: parts[0], Username: strings.Split(parts[0], "@")[0]}
		if len(parts) == 3 && parts[2] != "" {
			p.Groups = strings.Split(parts[2], "+")
		}
		passwords = append(passwords, p)
	}

	var st storage.Storage = memory.New(logger)
	st = storage.WithStaticClients(st, []storage.Client{{ID: clientID, Secret: clientSecret, Name: clientID}})
	st = storage.WithStaticPasswords(st, passwords, logger)
	st = storage.WithStaticConnectors(st, []storage.Connector{{ID: server.LocalConnector, Type: server.LocalConnector, Name: "Email"}})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	idTTL := 24 * time.Hour
	sig, err := (&signer.LocalConfig{KeysRotationPeriod: "6h"}).Open(ctx, st, idTTL, time.Now, logger)
	if err != nil {
		return err
	}
	dex, err := server.NewServer(ctx, server.Config{
		Issuer:             issuer,
		Storage:            st,
		PasswordConnector:  server.LocalConnector,
		SkipApprovalScreen: true,
		IDTokensValidFor:   idTTL,
		Logger:             logger,
		Signer:             sig,
		HealthChecker:      gosundheit.New(),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: dex, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	// Announce readiness only after discovery answers over the listening socket.
	u, err := url.Parse(issuer)
	if err != nil {
		return err
	}
	u.Host = ln.Addr().String()
	resp, err := http.Get(u.JoinPath(".well-known", "openid-configuration").String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery returned %s", resp.Status)
	}
	fmt.Println("READY " + issuer)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
