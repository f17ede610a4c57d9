package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/rs/zerolog"
)

// opaLogger routes OPA's logs (and Rego print() output) into the process's zerolog logger.
type opaLogger struct {
	log    zerolog.Logger
	fields map[string]any
}

func (l *opaLogger) emit(e *zerolog.Event, format string, a []any) {
	e.Fields(l.fields).Str("event.dataset", "gatehouse.opa").Msg(fmt.Sprintf(format, a...))
}

// Debug is dropped: OPA's debug logs include the whole input document, which carries the
// request body, and no log line may.
func (l *opaLogger) Debug(string, ...any) {}

func (l *opaLogger) Info(format string, a ...any)  { l.emit(l.log.Info(), format, a) }
func (l *opaLogger) Warn(format string, a ...any)  { l.emit(l.log.Warn(), format, a) }
func (l *opaLogger) Error(format string, a ...any) { l.emit(l.log.Error(), format, a) }

func (l *opaLogger) WithFields(f map[string]any) logging.Logger {
	merged := make(map[string]any, len(l.fields)+len(f))
	for k, v := range l.fields {
		merged[k] = v
	}
	for k, v := range f {
		merged[k] = v
	}
	return &opaLogger{log: l.log, fields: merged}
}

func (l *opaLogger) GetLevel() logging.Level {
	// Never Debug, for the reason given at Debug above.
	switch l.log.GetLevel() {
	case zerolog.DebugLevel, zerolog.TraceLevel, zerolog.InfoLevel:
		return logging.Info
	case zerolog.WarnLevel:
		return logging.Warn
	default:
		return logging.Error
	}
}

// SetLevel is ignored: the process's log level is set once, from gatehouse.yaml.
func (l *opaLogger) SetLevel(logging.Level) {}
