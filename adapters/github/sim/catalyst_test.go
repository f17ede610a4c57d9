package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"testing"

	catsim "github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
)

// TestTemplatesMatchCatalystCenter checks that every configuration template the Catalyst
// Center simulator has is a Velocity file in network-templates at
// catalyst-center/<project>/<template>.vtl, whose history on main holds each committed
// version in order and whose content on main is the latest version (and that the
// repository has no other template), so one story can span both systems.
func TestTemplatesMatchCatalystCenter(t *testing.T) {
	cat := httptest.NewServer(catsim.New(catsim.Options{}))
	defer cat.Close()
	catGet := func(token, path string, out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, cat.URL+path, nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := cat.Client().Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("catalyst %s: %v %v", path, err, resp)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, cat.URL+"/dna/system/api/v1/auth/token", nil)
	req.SetBasicAuth("admin", "C1sco12345") // the Catalyst Center simulator's default credentials
	resp, err := cat.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalyst login: %v %v", err, resp)
	}
	var login struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var templates []struct {
		Name         string `json:"name"`
		ProjectName  string `json:"projectName"`
		VersionsInfo []struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"versionsInfo"`
	}
	catGet(login.Token, "/dna/intent/api/v1/template-programmer/template", &templates)
	if len(templates) == 0 {
		t.Fatal("the Catalyst Center simulator has no templates")
	}

	e := newEnv(t)
	repo := Org + "/" + TemplatesRepo
	for _, tpl := range templates {
		path := "catalyst-center/" + tpl.ProjectName + "/" + tpl.Name + ".vtl"
		sort.Slice(tpl.VersionsInfo, func(i, j int) bool {
			a, _ := strconv.Atoi(tpl.VersionsInfo[i].Version)
			b, _ := strconv.Atoi(tpl.VersionsInfo[j].Version)
			return a < b
		})
		var versions []string
		for _, v := range tpl.VersionsInfo {
			var content struct {
				TemplateContent string `json:"templateContent"`
			}
			catGet(login.Token, "/dna/intent/api/v1/template-programmer/template/"+v.ID, &content)
			versions = append(versions, content.TemplateContent)
		}
		var commits []struct{ SHA string }
		e.call(http.MethodGet, nt+"/commits?sha=main&path="+path, nil, http.StatusOK, &commits)
		if len(commits) != len(versions) {
			t.Errorf("%s: %d commits on main for %d versions", path, len(commits), len(versions))
			continue
		}
		for i, v := range versions {
			got, _, ok := e.sim.File(repo, commits[len(commits)-1-i].SHA, path)
			if !ok || got != v {
				t.Errorf("%s: version %d is %q in Catalyst Center and %q in GitHub", path, i+1, v, got)
			}
		}
		if got, _, _ := e.sim.File(repo, "main", path); got != versions[len(versions)-1] {
			t.Errorf("%s: main has %q, Catalyst Center's latest version is %q", path, got, versions[len(versions)-1])
		}
	}
	var tree struct {
		Tree []struct{ Path, Type string }
	}
	e.call(http.MethodGet, nt+"/git/trees/main?recursive=1", nil, http.StatusOK, &tree)
	n := 0
	for _, entry := range tree.Tree {
		if entry.Type == "blob" && len(entry.Path) > 4 && entry.Path[len(entry.Path)-4:] == ".vtl" {
			n++
		}
	}
	if n != len(templates) {
		t.Errorf("%d templates in network-templates, %d in Catalyst Center", n, len(templates))
	}
}
