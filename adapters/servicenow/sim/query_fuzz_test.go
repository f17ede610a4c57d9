package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzQuery sends arbitrary encoded queries to the Table API: the simulator never panics,
// answers 200 with a result list (or a ServiceNow error), and a query naming an unknown field
// returns no rows rather than every row.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"active=true^ORDERBYDESCopened_at", "priority<=2^ORstate=1", "short_descriptionLIKEvpn^^x",
		"caller_id.user_name=sam.servicedesk", "stateIN1,2,3^NQpriority=1", "nosuchfield=1", "ORDERBY", "^OR^NQ^", "numberSTARTSWITHINC"} {
		f.Add(q)
	}
	s := New(Options{})
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest(http.MethodGet, "/api/now/table/incident?sysparm_query="+url.QueryEscape(q), nil)
		req.SetBasicAuth(DefaultUsername, DefaultPassword)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var body struct {
			Result []map[string]any `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("query %q: status %d, body is not JSON: %q", q, rec.Code, rec.Body.String())
		}
		if rec.Code == http.StatusOK && body.Error != nil || rec.Code != http.StatusOK && body.Error == nil {
			t.Fatalf("query %q: status %d with body %q", q, rec.Code, rec.Body.String())
		}
		if parseQuery(tIncident, q).invalid && len(body.Result) != 0 {
			t.Fatalf("query %q names an unknown field or operator but returned %d rows", q, len(body.Result))
		}
	})
}
