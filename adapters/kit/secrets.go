package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret is one named credential set (for example username and password of an upstream).
// Its String method never prints values, so a Secret in a log line or error is harmless.
type Secret map[string]string

// String lists the field names only.
func (s Secret) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	return fmt.Sprintf("Secret(%s)", strings.Join(keys, ", "))
}

// GoString keeps %#v from printing values too.
func (s Secret) GoString() string { return s.String() }

// Field returns a required field.
func (s Secret) Field(name string) (string, error) {
	v, ok := s[name]
	if !ok || v == "" {
		return "", fmt.Errorf("secret has no %q field", name)
	}
	return v, nil
}

// SecretSource hands out upstream credentials. Implementations cache briefly; Invalidate
// drops the cache for name, which adapters call after the upstream refused a credential, so
// a rotated secret is picked up at once.
type SecretSource interface {
	Get(ctx context.Context, name string) (Secret, error)
	Invalidate(name string)
}

// ErrSecretNotFound means the source has no secret of that name.
var ErrSecretNotFound = errors.New("secret not found")

// EnvSource reads secrets from the environment, for local use: the secret
// "catalyst-center" with field "username" is GATEHOUSE_SECRET_CATALYST_CENTER_USERNAME.
type EnvSource struct {
	// Environ returns the environment (default os.Environ).
	Environ func() []string
}

// Get implements SecretSource.
func (e EnvSource) Get(_ context.Context, name string) (Secret, error) {
	environ := e.Environ
	if environ == nil {
		environ = os.Environ
	}
	prefix := "GATEHOUSE_SECRET_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name)) + "_"
	s := Secret{}
	for _, kv := range environ() {
		k, v, _ := strings.Cut(kv, "=")
		if field, ok := strings.CutPrefix(k, prefix); ok && field != "" {
			s[strings.ToLower(field)] = v
		}
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: no %s* variables", ErrSecretNotFound, prefix)
	}
	return s, nil
}

// Invalidate implements SecretSource (the environment is read fresh every time).
func (EnvSource) Invalidate(string) {}
