package monitor_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/murmurmq/murmur/broker"
	"github.com/murmurmq/murmur/monitor"
)

// TestVarzSettings: the settings nats-server's /varz reports come from the
// broker's options: authentication, TLS and its certificate's expiry,
// tags, the config digest, the system account; config_load_time moves on
// a reload and start does not.
func TestVarzSettings(t *testing.T) {
	notAfter := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	o := testOptions()
	o.Auth.Users = []broker.User{{Name: "app", Password: "pw"}}
	o.TLS = &broker.TLSOptions{Config: &tls.Config{Certificates: []tls.Certificate{certUntil(t, notAfter)}, ClientAuth: tls.RequireAndVerifyClientCert}, Timeout: 3 * time.Second}
	o.Tags = []string{"region:east"}
	o.ConfigDigest = "sha256:abc"
	srv := started(t, newBrokerWith(t, o))
	m, err := monitor.New(monitor.Config{Broker: srv, RouteURLs: []string{"10.0.0.1:6222"}})
	if err != nil {
		t.Fatal(err)
	}
	v := m.Varz()
	if !v.AuthRequired || !v.TLSRequired || !v.TLSVerify || v.TLSTimeout != 3 || !v.TLSCertNotAfter.Equal(notAfter) {
		t.Errorf("auth %v tls %v verify %v timeout %v not after %v (want %v)", v.AuthRequired, v.TLSRequired, v.TLSVerify, v.TLSTimeout, v.TLSCertNotAfter, notAfter)
	}
	if len(v.Tags) != 1 || v.Tags[0] != "region:east" || v.ConfigDigest != "sha256:abc" || v.SystemAccount != broker.DefaultSystemAccount || v.AuthTimeout != 2 {
		t.Errorf("tags %v digest %q system account %q auth timeout %v", v.Tags, v.ConfigDigest, v.SystemAccount, v.AuthTimeout)
	}
	if v.Version != broker.ServerVersion || v.MurmurVersion != broker.Version || v.Cluster.Name != "" || v.Cluster.URLs != nil {
		t.Errorf("version %q murmur %q cluster %+v", v.Version, v.MurmurVersion, v.Cluster)
	}
	if !v.ConfigLoadTime.Equal(v.Start) {
		t.Errorf("config_load_time %v before any reload, start %v", v.ConfigLoadTime, v.Start)
	}
	o.ConfigDigest = "sha256:def"
	o.Name = ""
	eventually(t, 5*time.Second, "config_load_time to move on reload", func() bool {
		if err := srv.Reload(o); err != nil {
			t.Fatal(err)
		}
		return m.Varz().ConfigLoadTime.After(v.ConfigLoadTime) // the clock may not have ticked
	})
	if after := m.Varz(); after.ConfigDigest != "sha256:def" || !after.Start.Equal(v.Start) {
		t.Errorf("after reload: digest %q start %v (was %v)", after.ConfigDigest, after.Start, v.Start)
	}
}

// certUntil is a self-signed certificate valid until notAfter.
func certUntil(t *testing.T, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
