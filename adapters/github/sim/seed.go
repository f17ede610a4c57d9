package sim

import (
	"strings"
	"time"
)

// seedEpoch is the seed's "now": every seeded timestamp is before it (the same instant as
// the Catalyst Center and ServiceNow simulators' seeds).
var seedEpoch = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// The Catalyst Center simulator's configuration templates (adapters/catalystcenter/sim,
// seed.go), copied by value: project, template name and each committed version's
// content, oldest first. network-templates keeps one Velocity file per template,
// catalyst-center/<project>/<template>.vtl, whose history on main walks through the versions
// and whose content on main is each template's latest version. A test in this package
// (catalyst_test.go) checks that they still match.
const (
	interfaceDescriptionV1 = "interface $interface\n description $description\n"
	interfaceDescriptionV2 = "interface ${interface}\n description ${description}\n no shutdown\n"
	ntpServersV1           = "ntp server $ntp_primary prefer\nntp server $ntp_secondary\n"
	ntpServersV2           = "clock timezone ${timezone} 0 0\nntp server ${ntp_primary} prefer\nntp server ${ntp_secondary}\n"
	ntpServersV3           = "clock timezone ${timezone} 0 0\nntp server ${ntp_primary} prefer\nntp server ${ntp_secondary}\nntp update-calendar\n"
	loginBannerV1          = "banner login ^C\nAuthorized access to $company systems only.\n^C\n"
)

// Paths of the seeded templates in network-templates.
const (
	InterfaceDescriptionPath = "catalyst-center/Campus-Access/Interface-Description.vtl"
	NTPServersPath           = "catalyst-center/Global-Services/NTP-Servers.vtl"
	LoginBannerPath          = "catalyst-center/Global-Services/Login-Banner.vtl"
)

// Seeded names the tests and the dev platform refer to.
const (
	// LintCheck is the status check main of network-templates requires.
	LintCheck = "templates/lint"
	// BannerBranch is the head branch of pull request #3.
	BannerBranch = "feature/banner-monitoring"
)

const templatesReadme = `# network-templates

Configuration templates for Catalyst Center, one Velocity file per template:
catalyst-center/<project>/<template>.vtl. The file on main is the version Catalyst Center
deploys. Changes go through pull requests, which need the templates/lint check and one
approving review.
`

const bannerMonitored = "banner login ^C\nAuthorized access to $company systems only.\n" +
	"Activity on this device is monitored and logged.\n^C\n"

const deployScript = `"""Push the templates of gatehouse-net/network-templates to Catalyst Center."""

import pathlib

TEMPLATE_ROOT = pathlib.Path("network-templates/catalyst-center")


def templates():
    """Yield (project, template name, Velocity content) for every template file."""
    for path in sorted(TEMPLATE_ROOT.glob("*/*.vtl")):
        yield path.parent.name, path.stem, path.read_text()
`

func (s *Sim) seed() {
	for _, u := range []*user{
		{ID: 1001, Login: "dana-dev", Name: "Dana Developer", Email: "dana@gatehouse.example", Type: "User"},
		{ID: 1002, Login: "nina-neteng", Name: "Nina Petrova", Email: "nina@gatehouse.example", Type: "User"},
		{ID: 1003, Login: "maria-lead", Name: "Maria Manager", Email: "maria@gatehouse.example", Type: "User"},
		{ID: 1004, Login: "acme-admin", Name: "Acme Admin", Email: "admin@acme.example", Type: "User"},
		{ID: 2001, Login: BotLogin, Name: BotLogin, Email: "2001+" + BotLogin + "@users.noreply.github.com", Type: "Bot"},
	} {
		s.users[strings.ToLower(u.Login)] = u
	}
	s.orgs[Org] = &org{ID: 5001, Login: Org, Teams: map[string][]string{"network-engineers": {"nina-neteng", "maria-lead"}}}
	s.orgs["acme-corp"] = &org{ID: 5002, Login: "acme-corp", Teams: map[string][]string{}}
	s.seq = 100000

	at := func(day, hour int) time.Time { return time.Date(2025, 2, day, hour, 0, 0, 0, time.UTC) }
	who := func(login string, t time.Time) person {
		u := s.users[login]
		return person{Name: u.Name, Email: u.Email, Login: u.Login, Date: t}
	}
	commitOn := func(r *repo, branch string, files map[string]string, login string, t time.Time, msg string) *commit {
		var parents []string
		next := map[string]string{}
		if tip, ok := r.Branches[branch]; ok {
			parents = []string{tip}
			next = copyFiles(s.git.commits[tip].Files)
		}
		for p, content := range files {
			next[p] = s.git.putBlob([]byte(content))
		}
		c := s.git.writeCommit(next, parents, who(login, t), who(login, t), msg)
		r.Branches[branch] = c.SHA
		r.Pushed = t
		return c
	}
	newRepo := func(id int64, owner, name, desc string, created time.Time, collaborators ...string) *repo {
		r := &repo{ID: id, Owner: owner, Name: name, Private: true, Description: desc, DefaultBranch: "main",
			Created: created, Branches: map[string]string{}, Protection: map[string]*protection{},
			Collaborators: collaborators, Labels: []string{"bug", "enhancement"},
			CheckRuns: map[string][]*checkRun{}, Statuses: map[string][]*status{}}
		s.repos[strings.ToLower(r.fullName())] = r
		return r
	}

	// gatehouse-net/network-templates: the Catalyst Center templates, version by version.
	nt := newRepo(700001, Org, TemplatesRepo, "Catalyst Center configuration templates", at(1, 9),
		"dana-dev", "nina-neteng", "maria-lead")
	nt.Labels = append(nt.Labels, "legal", "templates")
	commitOn(nt, "main", map[string]string{"README.md": templatesReadme,
		InterfaceDescriptionPath: interfaceDescriptionV1, NTPServersPath: ntpServersV1, LoginBannerPath: loginBannerV1},
		"nina-neteng", at(3, 10), "Import the templates from Catalyst Center\n\nCloses #1.\n")
	commitOn(nt, "main", map[string]string{InterfaceDescriptionPath: interfaceDescriptionV2, NTPServersPath: ntpServersV2},
		"nina-neteng", at(10, 10), "Interface-Description v2 and NTP-Servers v2\n")
	c3 := commitOn(nt, "main", map[string]string{NTPServersPath: ntpServersV3},
		"nina-neteng", at(17, 10), "NTP-Servers v3: ntp update-calendar\n")
	nt.Branches[BannerBranch] = c3.SHA
	c4 := commitOn(nt, BannerBranch, map[string]string{LoginBannerPath: bannerMonitored},
		"dana-dev", at(24, 10), "Login banner: say that activity is monitored\n")
	nt.Protection["main"] = &protection{Contexts: []string{LintCheck}, Approvals: 1, RequirePR: true}
	nt.CheckRuns[c3.SHA] = []*checkRun{{ID: s.nextID(), Name: LintCheck, HeadSHA: c3.SHA, Status: "completed",
		Conclusion: "success", Started: at(17, 10).Add(time.Minute), Completed: at(17, 10).Add(2 * time.Minute),
		Title: "3 templates passed lint", Summary: "Every template renders with its defaults."}}
	nt.CheckRuns[c4.SHA] = []*checkRun{{ID: s.nextID(), Name: LintCheck, HeadSHA: c4.SHA, Status: "completed",
		Conclusion: "failure", Started: at(24, 10).Add(time.Minute), Completed: at(24, 10).Add(2 * time.Minute),
		Title:   "1 template failed lint",
		Summary: LoginBannerPath + " line 3: a banner line has 48 characters; the limit is 40."}}

	i1 := s.addItem(nt, "Import the Catalyst Center templates", "Export the templates of the Campus-Access and "+
		"Global-Services projects from Catalyst Center into this repository, one file per template.", "nina-neteng", at(1, 9))
	i1.Labels = []string{"templates"}
	i1.State, i1.StateReason, i1.Closed, i1.ClosedBy, i1.Updated = "closed", "completed", at(3, 10), "nina-neteng", at(3, 10)
	i2 := s.addItem(nt, "Login banner must say that activity is monitored", "Legal asks that every login banner says "+
		"that activity on the device is monitored and logged.", "maria-lead", at(21, 9))
	i2.Labels = []string{"legal", "templates"}
	i2.Comments = []*comment{{ID: s.nextID(), User: "dana-dev", Body: "Opened #3 for this.", Created: at(24, 11)}}
	i2.Updated = at(24, 11)
	pr := s.addItem(nt, "Login banner: say that activity is monitored", "Closes #2.\n\nAdds the sentence Legal asked for "+
		"to the login banner.", "dana-dev", at(24, 11))
	pr.PR = &pull{Head: BannerBranch, Base: "main", HeadSHA: c4.SHA, BaseSHA: c3.SHA, Requested: []string{"nina-neteng"}}

	// gatehouse-net/automation: what deploys the templates.
	au := newRepo(700002, Org, "automation", "Scripts that deploy network-templates", at(5, 9), "dana-dev", "nina-neteng")
	commitOn(au, "main", map[string]string{"README.md": "# automation\n\nScripts that push the templates in " +
		"network-templates to Catalyst Center.\n", "deploy_templates.py": deployScript}, "nina-neteng", at(5, 12),
		"Deploy script for network-templates\n")

	// acme-corp/firewall-rules: another organisation's repository, which the personal
	// access token can read but the App installation cannot (code search must not reach it).
	ac := newRepo(700003, "acme-corp", "firewall-rules", "Acme edge firewall", at(6, 9), "acme-admin")
	commitOn(ac, "main", map[string]string{"edge-fw.cfg": "ntp server 192.0.2.10\nip access-list extended EDGE-IN\n" +
		" permit udp any host 192.0.2.10 eq ntp\n"}, "acme-admin", at(6, 12), "Edge firewall baseline\n")
}
