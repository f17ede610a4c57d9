package servicenow

import (
	"context"
	"errors"
	"strings"
)

// ConfigItem is a configuration item as the CMDB records it.
type ConfigItem struct {
	Name         string `json:"name"`
	Class        string `json:"class"`
	IPAddress    string `json:"ip_address,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Location     string `json:"location,omitempty"`
	Status       string `json:"operational_status,omitempty"`
	URL          string `json:"url"`
}

var ciFields = []string{"sys_id", "name", "sys_class_name", "ip_address", "serial_number", "manufacturer", "model_id",
	"location", "operational_status"}

func (c *Client) configItem(r record) ConfigItem {
	return ConfigItem{Name: r.v("name"), Class: r.d("sys_class_name"), IPAddress: r.v("ip_address"),
		SerialNumber: r.v("serial_number"), Manufacturer: r.d("manufacturer"), Model: r.d("model_id"),
		Location: r.d("location"), Status: r.d("operational_status"), URL: c.recordURL("cmdb_ci", r.v("sys_id"))}
}

// CIFilter finds configuration items; at least one field is set.
type CIFilter struct {
	Name, IP, Serial string
	Limit            int
}

// FindConfigItems looks CIs up by name (prefix), IP address or serial number.
func (c *Client) FindConfigItems(ctx context.Context, f CIFilter) ([]ConfigItem, error) {
	var q []string
	if f.Name != "" {
		q = append(q, "nameSTARTSWITH"+quote(f.Name))
	}
	if f.IP != "" {
		q = append(q, "ip_address="+quote(f.IP))
	}
	if f.Serial != "" {
		q = append(q, "serial_number="+quote(f.Serial))
	}
	if len(q) == 0 {
		return nil, errors.New("give a name, an ip_address or a serial_number to look for")
	}
	p, err := c.list(ctx, "cmdb_ci", tableQuery{Query: strings.Join(q, "^") + "^ORDERBYname", Fields: ciFields, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]ConfigItem, 0, len(p.Records))
	for _, r := range p.Records {
		out = append(out, c.configItem(r))
	}
	return out, nil
}

// Relationship is one CMDB relationship seen from a CI.
type Relationship struct {
	// Type reads from the CI: "Connects to", "Depends on" (the CI is the parent) or
	// "Connected by", "Used by" (the CI is the child).
	Type string `json:"type"`
	CI   string `json:"ci"`
}

// CIRelationships is a CI with its relationships.
type CIRelationships struct {
	CI            ConfigItem     `json:"ci"`
	Relationships []Relationship `json:"relationships"`
}

// Relationships returns a CI's relationships in both directions.
func (c *Client) Relationships(ctx context.Context, name string) (CIRelationships, error) {
	ci, err := c.first(ctx, "cmdb_ci", "name="+quote(name), "no configuration item is named "+name)
	if err != nil {
		return CIRelationships{}, err
	}
	out := CIRelationships{CI: c.configItem(ci), Relationships: []Relationship{}}
	id := ci.v("sys_id")
	p, err := c.list(ctx, "cmdb_rel_ci", tableQuery{Query: "parent=" + id + "^ORchild=" + id,
		Fields: []string{"parent", "child", "type"}, Limit: 200})
	if err != nil {
		return CIRelationships{}, err
	}
	for _, r := range p.Records {
		// A type's name is "<parent descriptor>::<child descriptor>".
		down, up, _ := strings.Cut(r.d("type"), "::")
		if r.v("parent") == id {
			out.Relationships = append(out.Relationships, Relationship{Type: down, CI: r.d("child")})
		} else {
			out.Relationships = append(out.Relationships, Relationship{Type: up, CI: r.d("parent")})
		}
	}
	return out, nil
}
