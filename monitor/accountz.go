package monitor

import (
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/murmurmq/murmur/broker"
)

// Accountz is the /accountz document, with nats-server's field names:
// the account names, or with ?acc= one account's detail.
type Accountz struct {
	ID       string         `json:"server_id"`
	Now      time.Time      `json:"now"`
	Accounts []string       `json:"accounts,omitempty"`
	Account  *AccountDetail `json:"account_detail,omitempty"`
}

// AccountDetail is one account in /accountz?acc=.
type AccountDetail struct {
	Name          string       `json:"account_name"`
	Connections   int          `json:"client_connections"`
	Subscriptions int          `json:"subscriptions"`
	Exports       []ExportInfo `json:"exports,omitempty"`
	Imports       []ImportInfo `json:"imports,omitempty"`
	IsSystem      bool         `json:"is_system,omitempty"`
	// In operator mode: the account JWT's issuer, name, expiry and its
	// decoded claims (limits in decoded_jwt.nats.limits), as nats-server.
	Expired   bool               `json:"expired"`
	IssuerKey string             `json:"issuer_key,omitempty"`
	NameTag   string             `json:"name_tag,omitempty"`
	Decoded   *jwt.AccountClaims `json:"decoded_jwt,omitempty"`
}

// ExportInfo is one export ("stream" or "service").
type ExportInfo struct {
	Subject      string   `json:"subject"`
	Type         string   `json:"type"`
	Accounts     []string `json:"approved_accounts,omitempty"`
	ResponseType string   `json:"response_type,omitempty"`
}

// ImportInfo is one import: the exporting account's subject and where it
// lands here.
type ImportInfo struct {
	Subject      string `json:"subject"`
	Type         string `json:"type"`
	Account      string `json:"account"`
	LocalSubject string `json:"local_subject,omitempty"`
}

// Accountz lists the accounts, or details acc.
func (m *Server) Accountz(acc string) (*Accountz, error) {
	az := &Accountz{ID: m.b.ID(), Now: time.Now().UTC()}
	for _, a := range m.b.Accounts() {
		if acc == "" {
			az.Accounts = append(az.Accounts, a.Name)
			continue
		}
		if a.Name == acc {
			az.Account = accountDetail(&a)
			return az, nil
		}
	}
	if acc != "" {
		return nil, fmt.Errorf("account %q does not exist", acc)
	}
	return az, nil
}

func accountDetail(a *broker.AccountInfo) *AccountDetail {
	d := &AccountDetail{Name: a.Name, Connections: a.Connections, Subscriptions: a.Subscriptions, IsSystem: a.System}
	if ac := a.Claims; ac != nil {
		d.Decoded, d.IssuerKey, d.NameTag = ac, ac.Issuer, ac.Name
		d.Expired = ac.Expires > 0 && ac.Expires <= time.Now().Unix()
	}
	for _, e := range a.Exports {
		x := ExportInfo{Subject: e.Stream, Type: "stream", Accounts: e.Accounts}
		if e.Service != "" {
			x.Subject, x.Type, x.ResponseType = e.Service, "service", e.ResponseType
			if x.ResponseType == "" {
				x.ResponseType = broker.ResponseSingleton
			}
		}
		d.Exports = append(d.Exports, x)
	}
	for _, im := range a.Imports {
		x := ImportInfo{Subject: im.Stream, Type: "stream", Account: im.Account}
		if im.Prefix != "" {
			x.LocalSubject = im.Prefix + "." + im.Stream
		}
		if im.Service != "" {
			x.Subject, x.Type, x.LocalSubject = im.Service, "service", im.To
		}
		d.Imports = append(d.Imports, x)
	}
	return d
}
