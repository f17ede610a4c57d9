// Package temporalx connects Gatehouse processes to Temporal: the SDK's logger written as ECS
// JSON through zerolog, and a dial that waits for the server.
package temporalx

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/log"
)

// Logger is the Temporal SDK's log.Logger over a zerolog (ECS) logger. Workflow code logs
// through workflow.GetLogger and activities through activity.GetLogger, which add the
// workflow's identity and drop lines while a workflow is being replayed, so each step is
// logged once however often a worker replays it.
//
// Keys are turned into ECS field names: the SDK's own tags (WorkflowID, RunID, ActivityType,
// Attempt, Error, …) become gatehouse.workflow_id, gatehouse.temporal.run_id, …,
// error.message; keys that already contain a dot (event.action, user.id, gatehouse.*) are
// kept as they are; any other key becomes gatehouse.temporal.<snake_case>.
type Logger struct {
	zl zerolog.Logger
	// with are the field names With added, so a line never repeats one.
	with map[string]bool
}

// NewLogger wraps zl.
func NewLogger(zl zerolog.Logger) *Logger { return &Logger{zl: zl} }

var _ interface {
	log.Logger
	log.WithLogger
} = (*Logger)(nil)

// Debug implements log.Logger.
func (l *Logger) Debug(msg string, keyvals ...any) { l.write(l.zl.Debug(), msg, keyvals) }

// Info implements log.Logger.
func (l *Logger) Info(msg string, keyvals ...any) { l.write(l.zl.Info(), msg, keyvals) }

// Warn implements log.Logger.
func (l *Logger) Warn(msg string, keyvals ...any) { l.write(l.zl.Warn(), msg, keyvals) }

// Error implements log.Logger.
func (l *Logger) Error(msg string, keyvals ...any) { l.write(l.zl.Error(), msg, keyvals) }

// With implements log.WithLogger.
func (l *Logger) With(keyvals ...any) log.Logger {
	f := l.fields(keyvals)
	with := make(map[string]bool, len(l.with)+len(f))
	for k := range l.with {
		with[k] = true
	}
	for k := range f {
		with[k] = true
	}
	return &Logger{zl: l.zl.With().Fields(f).Logger(), with: with}
}

// fields are the line's fields minus those the logger already carries.
func (l *Logger) fields(keyvals []any) map[string]any {
	f := Fields(keyvals...)
	for k := range f {
		if l.with[k] {
			delete(f, k)
		}
	}
	return f
}

func (l *Logger) write(e *zerolog.Event, msg string, keyvals []any) {
	if e == nil { // level disabled
		return
	}
	e.Fields(l.fields(keyvals)).Msg(msg)
}

// sdkKeys are the SDK's logging tags and their ECS names.
var sdkKeys = map[string]string{
	"WorkflowID":   "gatehouse.workflow_id",
	"RunID":        "gatehouse.temporal.run_id",
	"WorkflowType": "gatehouse.temporal.workflow_type",
	"Namespace":    "gatehouse.temporal.namespace",
	"TaskQueue":    "gatehouse.temporal.task_queue",
	"WorkerID":     "gatehouse.temporal.worker_id",
	"ActivityID":   "gatehouse.temporal.activity_id",
	"ActivityType": "gatehouse.temporal.activity_type",
	"Attempt":      "gatehouse.temporal.attempt",
	"Error":        "error.message",
	"PanicError":   "error.message",
	"StackTrace":   "error.stack_trace",
	"PanicStack":   "error.stack_trace",
}

// FieldName is the ECS field name of a logging key.
func FieldName(key string) string {
	if n, ok := sdkKeys[key]; ok {
		return n
	}
	if strings.Contains(key, ".") {
		return key
	}
	var b strings.Builder
	b.WriteString("gatehouse.temporal.")
	for i, r := range key {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Fields turns SDK key-value pairs into zerolog fields with ECS names. Errors and
// fmt.Stringers are written as their text; a key without a value gets "(MISSING)".
func Fields(keyvals ...any) map[string]any {
	out := make(map[string]any, len(keyvals)/2)
	for i := 0; i < len(keyvals); i += 2 {
		key := FieldName(fmt.Sprint(keyvals[i]))
		var v any = "(MISSING)"
		if i+1 < len(keyvals) {
			v = keyvals[i+1]
		}
		switch x := v.(type) {
		case nil:
			continue
		case error:
			v = x.Error()
		case time.Duration, time.Time, []string:
		case fmt.Stringer:
			v = x.String()
		}
		out[key] = v
	}
	return out
}
