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

// setupDemo creates the demo world on first start with --demo and prints
// the credentials to out. It does nothing when the demo site exists.
func setupDemo(ctx context.Context, svc *auth.Service, out io.Writer) error {
	if _, err := svc.Site(DemoSite); err == nil {
		return nil
	}
	if _, err := svc.AddSite(ctx, auth.Site{ID: DemoSite, Name: "甲镇卫生院 (demo)", Kind: auth.Township, Parent: "county"}); err != nil {
		return fmt.Errorf("demo site: %w", err)
	}
	if _, err := svc.AddGroup(ctx, auth.Group{ID: DefaultReadingGroup, Name: "县医院影像诊断中心"}); err != nil && !errors.Is(err, auth.ErrExists) {
		return fmt.Errorf("demo reading group: %w", err)
	}
	people := []struct {
		user, name string
		grant      auth.Grant
	}{
		{"tech", "乡镇技师 (technician)", auth.Grant{Role: auth.Technician, Site: DemoSite}},
		{"reader", "诊断医师 (reader)", auth.Grant{Role: auth.Reader, Group: DefaultReadingGroup}},
		{"senior", "审核医师 (senior reader)", auth.Grant{Role: auth.SeniorReader, Group: DefaultReadingGroup}},
		{"doctor", "临床医生 (referring doctor)", auth.Grant{Role: auth.ReferringDoctor, Site: DemoSite}},
	}
	fmt.Fprintf(out, "\n  Demo accounts (site %s, reading group %s):\n", DemoSite, DefaultReadingGroup)
	for _, p := range people {
		pw, err := auth.GeneratePassword()
		if err != nil {
			return err
		}
		if _, _, err := svc.AddUser(ctx, auth.NewUser{Username: p.user, Name: p.name, Password: pw, Grants: []auth.Grant{p.grant}}); err != nil {
			if errors.Is(err, auth.ErrExists) {
				continue
			}
			return fmt.Errorf("demo user %s: %w", p.user, err)
		}
		fmt.Fprintf(out, "    %-7s password %s   %s\n", p.user, pw, p.name)
	}
	_, secret, err := svc.CreateToken(ctx, auth.NewToken{Name: demoToken, Site: DemoSite,
		Capabilities: []auth.Capability{auth.CapUpload, auth.CapRead}})
	if err != nil {
		return fmt.Errorf("demo token: %w", err)
	}
	fmt.Fprintf(out, "  Device token for uploads (STOW-RS, ECG), shown once:\n    %s\n"+
		"  e.g. curl -u x:%s -H 'Content-Type: application/dicom' --data-binary @ct.dcm http://HOST/dicom-web/studies\n\n", secret, secret)
	return nil
}
