package kit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// argsSchema checks a tool's arguments against the input schema the tool publishes in
// tools/list, and says what is wrong in words a model or a person can act on:
//
//	invalid arguments for list_devices: missing required argument "device_ids"; unknown argument "deviceIds"
//
// The kit validates arguments itself rather than through mcp-go's WithInputSchemaValidation,
// which uses the same validator (santhosh-tekuri/jsonschema/v6) but flattens its structured
// causes into Go values (`<root>: &{Missing:[device_ids]}`). Failures are tool execution errors
// (isError results), as MCP 2025-11-25 prescribes for input validation, so the model can
// correct the call.
type argsSchema struct {
	tool   string
	schema *jsonschema.Schema
}

// compileArgsSchema compiles a tool's input schema. A schema that does not compile is a
// registration error: mcp-go would skip validating such a tool, the kit refuses it.
func compileArgsSchema(tool string, raw json.RawMessage) (*argsSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("input schema is not JSON: %w", err)
	}
	url := "mem:///gatehouse/tools/" + tool + "/input-schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("input schema does not compile: %w", err)
	}
	return &argsSchema{tool: tool, schema: s}, nil
}

// check validates a call's arguments (a json.RawMessage as received, or a decoded value).
// Absent or null arguments are checked as {}, so required arguments are still named.
func (a *argsSchema) check(args any) error {
	inst, err := decodeArgs(args)
	if err != nil {
		return fmt.Errorf("invalid arguments for %s: not valid JSON: %v", a.tool, err)
	}
	err = a.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("invalid arguments for %s: %v", a.tool, err)
	}
	d := &describer{inst: inst}
	d.walk(verr)
	return fmt.Errorf("invalid arguments for %s: %s", a.tool, d.String())
}

func decodeArgs(args any) (any, error) {
	var raw []byte
	switch v := args.(type) {
	case nil:
		return map[string]any{}, nil
	case json.RawMessage:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return map[string]any{}, nil
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// Problem classes, in the order they are reported.
const (
	classMissing = iota
	classUnknown
	classOther
)

type problem struct {
	class int
	field string
	text  string
}

// describer turns the leaves of a validation error tree into one sentence each.
type describer struct {
	inst     any
	problems []problem
}

var printer = message.NewPrinter(language.English)

func (d *describer) walk(e *jsonschema.ValidationError) {
	if len(e.Causes) == 0 {
		d.leaf(e)
		return
	}
	for _, c := range e.Causes {
		d.walk(c)
	}
}

func (d *describer) add(class int, field, text string) {
	d.problems = append(d.problems, problem{class: class, field: field, text: text})
}

func (d *describer) leaf(e *jsonschema.ValidationError) {
	at := fieldPath(d.inst, e.InstanceLocation)
	subject := "arguments"
	if at != "" {
		subject = fmt.Sprintf("argument %q", at)
	}
	other := func(format string, args ...any) {
		d.add(classOther, at, subject+" "+fmt.Sprintf(format, args...))
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			f := joinField(at, m)
			d.add(classMissing, f, fmt.Sprintf("missing required argument %q", f))
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			f := joinField(at, p)
			d.add(classUnknown, f, fmt.Sprintf("unknown argument %q", f))
		}
	case *kind.Type:
		other("must be %s (got %s)", typeNames(k.Want), typeName(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		if len(want) == 1 {
			other("must be %s (got %s)", want[0], display(k.Got))
		} else {
			other("must be one of %s (got %s)", strings.Join(want, ", "), display(k.Got))
		}
	case *kind.Const:
		other("must be %s (got %s)", display(k.Want), display(k.Got))
	case *kind.Minimum:
		other("must be at least %s (got %s)", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMinimum:
		other("must be greater than %s (got %s)", ratString(k.Want), ratString(k.Got))
	case *kind.Maximum:
		other("must be at most %s (got %s)", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMaximum:
		other("must be less than %s (got %s)", ratString(k.Want), ratString(k.Got))
	case *kind.MultipleOf:
		other("must be a multiple of %s (got %s)", ratString(k.Want), ratString(k.Got))
	case *kind.MinLength:
		other("must be at least %d characters long (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		other("must be at most %d characters long (got %d)", k.Want, k.Got)
	case *kind.Pattern:
		other("must match the pattern %s (got %s)", k.Want, display(k.Got))
	case *kind.Format:
		other("must be a valid %s (got %s)", k.Want, display(k.Got))
	case *kind.MinItems:
		other("must have at least %d items (got %d)", k.Want, k.Got)
	case *kind.MaxItems:
		other("must have at most %d items (got %d)", k.Want, k.Got)
	case *kind.UniqueItems:
		other("must not repeat items (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		other("must have at least %d members (got %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		other("must have at most %d members (got %d)", k.Want, k.Got)
	case *kind.FalseSchema:
		d.add(classUnknown, at, fmt.Sprintf("%s is not accepted", subject))
	default:
		// The validator's own English for the rarer keywords (dependentRequired, contains,
		// propertyNames, not, ...).
		d.add(classOther, at, subject+": "+e.ErrorKind.LocalizedString(printer))
	}
}

// String renders the problems: missing arguments first, then unknown ones, then the rest,
// each group in field order, without repeats.
func (d *describer) String() string {
	sort.SliceStable(d.problems, func(i, j int) bool {
		a, b := d.problems[i], d.problems[j]
		if a.class != b.class {
			return a.class < b.class
		}
		if a.field != b.field {
			return a.field < b.field
		}
		return a.text < b.text
	})
	texts := make([]string, 0, len(d.problems))
	for i, p := range d.problems {
		if i > 0 && p.text == d.problems[i-1].text {
			continue
		}
		texts = append(texts, p.text)
	}
	if len(texts) == 0 {
		return "they do not match the tool's input schema"
	}
	return strings.Join(texts, "; ")
}

// fieldPath names the value at a validator instance location the way a caller writes it:
// filter.site, items[2].name. Array indexes are told from object keys by the instance itself.
func fieldPath(inst any, loc []string) string {
	var b strings.Builder
	v := inst
	for _, seg := range loc {
		if arr, ok := v.([]any); ok {
			b.WriteString("[" + seg + "]")
			v = nil
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(arr) {
				v = arr[i]
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
		obj, _ := v.(map[string]any)
		v = obj[seg]
	}
	return b.String()
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// typeNames renders a type list: "an array or null".
func typeNames(types []string) string {
	names := make([]string, 0, len(types))
	null := false
	for _, t := range types {
		if t == "null" {
			null = true
			continue
		}
		names = append(names, typeName(t))
	}
	if null {
		names = append(names, "null")
	}
	return strings.Join(names, " or ")
}

func typeName(t string) string {
	switch t {
	case "null":
		return "null"
	case "integer", "array", "object":
		return "an " + t
	default:
		return "a " + t
	}
}

// display renders a JSON value as JSON, shortened to stay readable.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const limit = 60
	if s := []rune(string(b)); len(s) > limit {
		return string(s[:limit]) + "…"
	}
	return string(b)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
