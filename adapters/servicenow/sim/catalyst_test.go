package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	catsim "github.com/gatehouse-mcp/gatehouse/adapters/catalystcenter/sim"
)

// TestCISeedMatchesCatalystCenter checks that every device the Catalyst Center
// simulator manages is a cmdb_ci_netgear CI here with the same name,
// management IP and serial number (and nothing more), so an adapter can go
// from a ServiceNow CI to the Catalyst Center device and back.
func TestCISeedMatchesCatalystCenter(t *testing.T) {
	cat := httptest.NewServer(catsim.New(catsim.Options{}))
	defer cat.Close()
	c := &env{t: t, srv: cat}
	req, _ := http.NewRequest(http.MethodPost, cat.URL+"/dna/system/api/v1/auth/token", nil)
	req.SetBasicAuth("admin", "C1sco12345") // the Catalyst Center simulator's default credentials
	resp, err := cat.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalyst login: %v %v", err, resp)
	}
	var login struct{ Token string }
	decodeInto(t, resp, &login)
	req, _ = http.NewRequest(http.MethodGet, cat.URL+"/dna/intent/api/v1/network-device?limit=500", nil)
	req.Header.Set("X-Auth-Token", login.Token)
	resp, err = c.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalyst devices: %v %v", err, resp)
	}
	var devices struct {
		Response []struct {
			Hostname, ManagementIPAddress, SerialNumber, PlatformID, SoftwareVersion, MacAddress string
		} `json:"response"`
	}
	decodeInto(t, resp, &devices)
	if len(devices.Response) == 0 {
		t.Fatal("the Catalyst Center simulator has no devices")
	}

	e := newEnv(t)
	for _, d := range devices.Response {
		rows := results(e.get(table + "cmdb_ci" + qs("sysparm_query", "name="+d.Hostname,
			"sysparm_fields", "name,ip_address,serial_number,sys_class_name,model_number,mac_address")))
		if len(rows) != 1 {
			t.Errorf("%s: %d CIs", d.Hostname, len(rows))
			continue
		}
		ci := rows[0]
		if ci["ip_address"] != d.ManagementIPAddress || ci["serial_number"] != d.SerialNumber ||
			ci["sys_class_name"] != "cmdb_ci_netgear" || ci["model_number"] != d.PlatformID || ci["mac_address"] != d.MacAddress {
			t.Errorf("%s: CI %v does not match device %+v", d.Hostname, ci, d)
		}
		netgear := results(e.get(table + "cmdb_ci_netgear" + qs("sysparm_query", "name="+d.Hostname,
			"sysparm_fields", "firmware_version,manufacturer", "sysparm_display_value", "true")))[0]
		if netgear["firmware_version"] != d.SoftwareVersion ||
			netgear["manufacturer"].(map[string]any)["display_value"] != "Cisco" {
			t.Errorf("%s: %v", d.Hostname, netgear)
		}
	}
	if n := len(results(e.get(table + "cmdb_ci_netgear"))); n != len(devices.Response) {
		t.Errorf("%d network CIs for %d Catalyst Center devices", n, len(devices.Response))
	}
}

func decodeInto(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
