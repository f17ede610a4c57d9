package restbridge_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vErrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/gatehouse-mcp/gatehouse/adapters/restbridge"
	"github.com/gatehouse-mcp/gatehouse/internal/contract"
	"github.com/gatehouse-mcp/gatehouse/internal/golden"
	"github.com/gatehouse-mcp/gatehouse/internal/registry"
	"github.com/gatehouse-mcp/gatehouse/internal/testkit"
)

// The committed openapi.json is exactly what the pinned catalog and the adapters' declarations
// give: a tool added, re-annotated or re-pinned without regenerating it fails here.
func TestOpenAPIIsCurrent(t *testing.T) {
	cat, err := os.ReadFile(testkit.Root("policies", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	decls, err := registry.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	got, err := restbridge.GenerateOpenAPI(cat, decls)
	if err != nil {
		t.Fatal(err)
	}
	committed, _ := os.ReadFile(restbridge.OpenAPIFile)
	if f := flag.Lookup("update"); !bytes.Equal(got, committed) && (f == nil || f.Value.String() != "true") {
		t.Error("adapters/restbridge/openapi.json is stale: run `go generate ./adapters/restbridge` and review the diff")
	}
	golden.Assert(t, restbridge.OpenAPIFile, got)
}

func newValidator(t *testing.T, doc []byte) validator.Validator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatalf("the validator cannot load the document: %v", errs)
	}
	return v
}

func report(errs []*vErrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i == 10 {
			fmt.Fprintf(&b, "\n… and %d more", len(errs)-10)
			break
		}
		fmt.Fprintf(&b, "\n%s: %s (%s)", e.ValidationType, e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
		}
	}
	return b.String()
}

// The committed document is valid OpenAPI 3.1 under a real validator (pb33f's, which checks
// it against the OpenAPI 3.1 JSON Schema), and one operation per pinned tool.
func TestOpenAPIDocumentValidates(t *testing.T) {
	doc, err := os.ReadFile(restbridge.OpenAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, doc)
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.json is not valid OpenAPI:%s", report(errs))
	}
	d, _ := libopenapi.NewDocument(doc)
	model, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	if model.Model.Version != "3.1.0" {
		t.Fatalf("version %s", model.Model.Version)
	}
	ops := 0
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		if _, tool, ok := contract.ParseRESTPath(path); ok && tool != "" {
			if item.Post == nil || item.Post.RequestBody == nil || item.Post.Responses.Codes.GetOrZero("200") == nil {
				t.Errorf("%s: no POST with a request body and a 200", path)
			}
			ops++
		}
	}
	if ops < 40 {
		t.Fatalf("only %d tool operations", ops)
	}
	if s := model.Model.Components.SecuritySchemes.GetOrZero("bearer"); s == nil || s.Scheme != "bearer" {
		t.Fatal("no bearer security scheme")
	}
}

// What the bridge actually answers matches the document: requests and responses of calls,
// refusals and listings validate against it.
func TestAnswersMatchTheDocument(t *testing.T) {
	rc := &recorder{}
	srv := newBridge(t, restbridge.Options{Upstreams: adapters(t, rc)})
	raw, err := os.ReadFile(restbridge.OpenAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, raw)
	check := func(method, path, body string, header map[string]string, status int) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, val := range header {
			req.Header.Set(k, val)
		}
		// The request as a client sends it through the edge (with a token) validates.
		vreq, _ := http.NewRequest(method, "http://edge.example"+path, strings.NewReader(body))
		vreq.Header = req.Header.Clone()
		vreq.Header.Set("Authorization", "Bearer x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if status < 400 {
			if ok, errs := v.ValidateHttpRequest(vreq); !ok {
				t.Errorf("%s %s: the request does not match the document:%s", method, path, report(errs))
			}
			vreq, _ = http.NewRequest(method, "http://edge.example"+path, strings.NewReader(body))
			vreq.Header = req.Header.Clone()
		}
		if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
			t.Errorf("%s %s → %d: the answer does not match the document:%s\n%s", method, path, resp.StatusCode, report(errs), b)
		}
	}
	id := edge("sam", "d")
	check("POST", contract.RESTPath("catalyst-center", "list_devices"), `{"arguments": {"role": "CORE"}}`, id, 200)
	check("POST", contract.RESTPath("catalyst-center", "get_device"), `{"arguments": {"device_id": "nope"}}`, id, 422)
	check("POST", contract.RESTPath("catalyst-center", "get_device"), `{"arguments": {}}`, id, 400)
	check("POST", contract.RESTPath("servicenow", "create_incident"), `{"arguments": {"short_description": "x"}}`,
		map[string]string{restbridge.IdempotencyHeader: "k", contract.HeaderSubject: "sam"}, 200)
	check("POST", contract.RESTPath("servicenow", "search_incidents"), `{"arguments": {"limit": 2}}`, id, 200)
	listed := edge("sam", "d")
	listed[contract.HeaderTools] = "get_device,list_sites"
	check("GET", contract.RESTToolsPath("catalyst-center"), "", listed, 200)
	check("GET", contract.RESTOpenAPIPath, "", nil, 200)
}
