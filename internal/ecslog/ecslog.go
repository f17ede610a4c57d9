// Package ecslog configures zerolog to write Elastic Common Schema JSON: @timestamp, log.level,
// message, ecs.version and service.name on every line, so Filebeat ships Gatehouse logs to
// Elasticsearch without an ingest pipeline. Every Gatehouse process logs through it.
package ecslog

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// ECSVersion is the ECS version the field names follow.
const ECSVersion = "8.11.0"

func init() {
	zerolog.TimestampFieldName = "@timestamp"
	zerolog.LevelFieldName = "log.level"
	zerolog.MessageFieldName = "message"
	zerolog.ErrorFieldName = "error.message"
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Nanosecond
	zerolog.DurationFieldInteger = true
}

// New returns a logger for service. format is "json" (ECS) or "console" (readable, for a
// terminal); level is debug, info, warn or error.
func New(w io.Writer, service, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	} else if format != "json" {
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().
		Str("ecs.version", ECSVersion).Str("service.name", service).Logger(), nil
}
