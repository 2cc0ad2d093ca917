package hub

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/huren-health/huren/auth"
)

// Demo world: one township site under the bootstrap hub, the default
// reading group, one person per role and a device token, so a new user can
// try every workflow at once. Passwords are generated, never fixed.
const (
	DemoSite  = "town-a"
	demoToken = "demo-modality"
)

// demoPeople are the demo accounts, one per role.
var demoPeople = []struct {
	user, name string
	grant      auth.Grant
}{
	{"tech", "乡镇技师 (technician)", auth.Grant{Role: auth.Technician, Site: DemoSite}},
	{"reader", "诊断医师 (reader)", auth.Grant{Role: auth.Reader, Group: DefaultReadingGroup}},
	{"senior", "审核医师 (senior reader)", auth.Grant{Role: auth.SeniorReader, Group: DefaultReadingGroup}},
	{"doctor", "临床医生 (referring doctor)", auth.Grant{Role: auth.ReferringDoctor, Site: DemoSite}},
}

// setupDemo creates whatever part of the demo world is missing with
// --demo and prints the new credentials to out. Each piece is checked on
// its own, so a first start interrupted half-way (killed after the site,
// before the token) is completed by the next start instead of being
// taken for done; pieces that exist are left alone, and nothing is printed
// when the world is complete.
func setupDemo(ctx context.Context, svc *auth.Service, out io.Writer) error {
	if _, err := svc.Site(DemoSite); err != nil {
		if _, err := svc.AddSite(ctx, auth.Site{ID: DemoSite, Name: "甲镇卫生院 (demo)", Kind: auth.Township, Parent: "county"}); err != nil && !errors.Is(err, auth.ErrExists) {
			return fmt.Errorf("demo site: %w", err)
		}
	}
	if _, err := svc.AddGroup(ctx, auth.Group{ID: DefaultReadingGroup, Name: "县医院影像诊断中心"}); err != nil && !errors.Is(err, auth.ErrExists) {
		return fmt.Errorf("demo reading group: %w", err)
	}
	header := false
	printHeader := func() {
		if !header {
			fmt.Fprintf(out, "\n  Demo accounts (site %s, reading group %s):\n", DemoSite, DefaultReadingGroup)
			header = true
		}
	}
	for _, p := range demoPeople {
		if _, err := svc.User(p.user); err == nil {
			continue
		}
		pw, err := auth.GeneratePassword()
		if err != nil {
			return err
		}
		if _, _, err := svc.AddUser(ctx, auth.NewUser{Username: p.user, Name: p.name, Password: pw, Grants: []auth.Grant{p.grant}}); err != nil {
			if errors.Is(err, auth.ErrExists) {
				continue // another replica created it
			}
			return fmt.Errorf("demo user %s: %w", p.user, err)
		}
		printHeader()
		fmt.Fprintf(out, "    %-7s password %s   %s\n", p.user, pw, p.name)
	}
	tokens, err := svc.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("demo token: %w", err)
	}
	for _, t := range tokens {
		if t.Name == demoToken && t.Site == DemoSite && t.Active {
			if header {
				fmt.Fprintln(out)
			}
			return nil
		}
	}
	_, secret, err := svc.CreateToken(ctx, auth.NewToken{Name: demoToken, Site: DemoSite,
		Capabilities: []auth.Capability{auth.CapUpload, auth.CapRead}})
	if err != nil {
		return fmt.Errorf("demo token: %w", err)
	}
	printHeader()
	fmt.Fprintf(out, "  Device token for uploads (STOW-RS, ECG), shown once:\n    %s\n"+
		"  e.g. curl -u x:%s -H 'Content-Type: application/dicom' --data-binary @ct.dcm http://HOST/dicom-web/studies\n\n", secret, secret)
	return nil
}
