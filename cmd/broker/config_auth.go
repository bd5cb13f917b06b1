package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/murmurmq/murmur/broker"
	conf "github.com/murmurmq/murmur/config"
	"github.com/murmurmq/murmur/pubsub"
)

// decodeAuth reads an authorization block: a token, one user and
// password, or a users list, and an auth timeout.
func decodeAuth(v *conf.Value, callout **conf.Value) (*broker.AuthOptions, error) {
	a := &broker.AuthOptions{}
	var user, pass *conf.Value
	var defaults *broker.Permissions
	defaultPerms := func(v *conf.Value) (err error) {
		defaults, err = decodePermissions(v)
		return err
	}
	callouts := func(v *conf.Value) (err error) {
		a.Callout, err = decodeCallout(v)
		*callout = v
		return err
	}
	err := block(refuse(keys{
		"auth_callout":        callouts,
		"auth_hook":           callouts,
		"default_permissions": defaultPerms,
		"default_permission":  defaultPerms,
		"permissions":         defaultPerms,
		"token":               str(&a.Token),
		"user":                keep(&user),
		"username":            keep(&user),
		"password":            keep(&pass),
		"pass":                keep(&pass),
		"timeout":             duration(&a.Timeout),
		"users": func(v *conf.Value) (err error) {
			a.Users, err = decodeUsers(v)
			return err
		},
	}, refusedAuth))(v)
	if err != nil {
		return nil, err
	}
	// default_permissions hold for the users that have none of their own
	// (nats-server applyDefaultPermissions).
	for i := range a.Users {
		if a.Users[i].Permissions == nil && defaults != nil {
			a.Users[i].Permissions = defaults
		}
	}
	switch {
	case pass != nil && user == nil:
		return nil, pass.Errorf("password without user")
	case user != nil && len(a.Users) > 0:
		return nil, user.Errorf("set user and password, or users, not both")
	case user != nil:
		u := broker.User{Name: user.Str}
		if pass != nil {
			u.Password = pass.Str
		}
		a.Users = []broker.User{u}
	}
	if a.Token != "" && len(a.Users) > 0 {
		return nil, v.Errorf("set token or users, not both")
	}
	return a, nil
}

// decodeUsers reads users [ {user, password, permissions}, ... ].
func decodeUsers(v *conf.Value) ([]broker.User, error) {
	list, err := v.AsArray()
	if err != nil {
		return nil, err
	}
	users := make([]broker.User, 0, len(list))
	seen := map[string]*conf.Value{}
	for _, e := range list {
		var u broker.User
		var name, nkey *conf.Value
		perms := func(v *conf.Value) (err error) {
			u.Permissions, err = decodePermissions(v)
			return err
		}
		err := block(refuse(keys{
			"user":          keep(&name),
			"username":      keep(&name),
			"password":      str(&u.Password),
			"pass":          str(&u.Password),
			"nkey":          keep(&nkey),
			"permissions":   perms,
			"permission":    perms,
			"authorization": perms,
		}, refusedUser))(e)
		if err != nil {
			return nil, err
		}
		if nkey != nil {
			switch {
			case name != nil:
				return nil, name.Errorf("an nkey user has no user name")
			case u.Password != "":
				return nil, nkey.Errorf("an nkey user has no password")
			case !nkeys.IsValidPublicUserKey(nkey.Str):
				return nil, nkey.Errorf("%q is not a valid public user nkey", nkey.Str)
			}
			name = nkey
			u.Nkey = nkey.Str
		} else if name == nil || name.Str == "" {
			return nil, e.Errorf("user is required")
		} else {
			u.Name = name.Str
		}
		if first := seen[name.Str]; first != nil {
			return nil, name.Errorf("user %q appears twice (first at %s)", name.Str, first.Pos)
		}
		seen[name.Str] = name
		users = append(users, u)
	}
	return users, nil
}

// decodePermissions reads permissions { publish, subscribe,
// allow_responses }.
func decodePermissions(v *conf.Value) (*broker.Permissions, error) {
	p := &broker.Permissions{}
	err := block(keys{
		"publish":         rules(&p.Publish, false),
		"pub":             rules(&p.Publish, false),
		"subscribe":       rules(&p.Subscribe, true),
		"sub":             rules(&p.Subscribe, true),
		"allow_responses": responses(&p.Response),
		"allow_response":  responses(&p.Response),
		// nats-server's older names
		"import":                  rules(&p.Publish, false),
		"export":                  rules(&p.Subscribe, true),
		"publish_allow_responses": responses(&p.Response),
	})(v)
	return p, err
}

// responses reads allow_responses: true (nats-server's defaults: one
// response within 2 minutes), false, or { max, expires }.
func responses(dst **broker.ResponsePermission) setter {
	return func(v *conf.Value) error {
		rp := &broker.ResponsePermission{MaxMsgs: broker.DefaultResponseMaxMsgs, Expires: broker.DefaultResponseExpires}
		switch v.Kind {
		case conf.Bool:
			if !v.Bool {
				*dst = nil
				return nil
			}
		case conf.Block:
			maxMsgs := integer(&rp.MaxMsgs, 0, 1<<31)
			expires := duration(&rp.Expires)
			err := block(keys{
				"max": maxMsgs, "max_msgs": maxMsgs, "max_messages": maxMsgs, "max_responses": maxMsgs,
				"expires": expires, "expiration": expires, "ttl": expires,
			})(v)
			if err != nil {
				return err
			}
		default:
			return v.Errorf("want true, false or {max, expires}, got %s", v.Kind)
		}
		*dst = rp
		return nil
	}
}

// rules reads a subject, a list of subjects (both: allow), or
// { allow: ..., deny: ... }. Subscribe rules (withQueue) may name a queue
// after the subject: "foo q1".
func rules(dst *broker.SubjectRules, withQueue bool) setter {
	subjects := func(dst *[]string) setter {
		return func(v *conf.Value) error {
			l, err := v.AsStrings()
			if err != nil {
				return err
			}
			for _, s := range l {
				if withQueue {
					if !validSubjectQueue(s) {
						return v.Errorf("invalid subject %q (want a subject, or a subject and a queue)", s)
					}
				} else if !pubsub.ValidSubject(s) {
					return v.Errorf("invalid subject %q", s)
				}
			}
			*dst = l
			return nil
		}
	}
	return func(v *conf.Value) error {
		if v.Kind == conf.Block {
			return block(keys{"allow": subjects(&dst.Allow), "deny": subjects(&dst.Deny)})(v)
		}
		if v.Kind != conf.String && v.Kind != conf.Array {
			return v.Errorf("want a subject, a list of subjects or {allow, deny}, got %s", v.Kind)
		}
		return subjects(&dst.Allow)(v)
	}
}

// validSubjectQueue accepts "subject" or "subject queue".
func validSubjectQueue(s string) bool {
	f := strings.Fields(s)
	return (len(f) == 1 || len(f) == 2 && pubsub.ValidQueueName(f[1])) && pubsub.ValidSubject(f[0])
}

// keep stores a string value itself, for checks that need its position.
func keep(dst **conf.Value) setter {
	return func(v *conf.Value) error {
		if _, err := v.AsString(); err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// accountKeys are the top-level keys that add to authorization: the
// accounts block and no_auth_user.
type accountKeys struct {
	accounts      []broker.Account
	noAuthUser    *conf.Value
	systemAccount *conf.Value
	// where each export and import was written, by its path in errors
	// ("accounts.B.imports[0]")
	where map[string]*conf.Value
}

// apply merges them into o.Auth, checking what spans the two: a user in
// two accounts (or in one and in authorization), and a no_auth_user that
// exists.
func (k *accountKeys) apply(o *broker.Options) error {
	if len(k.accounts) == 0 && k.noAuthUser == nil && k.systemAccount == nil {
		return nil
	}
	a := &broker.AuthOptions{}
	if o.Auth != nil {
		c := *o.Auth
		a = &c
	}
	a.Accounts = k.accounts
	if v := k.noAuthUser; v != nil {
		a.NoAuthUser = v.Str
	}
	if v := k.systemAccount; v != nil {
		if !slices.ContainsFunc(a.Accounts, func(acc broker.Account) bool { return acc.Name == v.Str }) {
			return v.Errorf("%q is not a defined account", v.Str)
		}
		a.SystemAccount = v.Str
	}
	users := map[string]bool{}
	for _, u := range a.Users {
		users[u.Name] = true
	}
	for _, acc := range a.Accounts {
		for _, u := range acc.Users {
			if users[u.Name+u.Nkey] {
				return fmt.Errorf("accounts.%s: user %q is already a user of another account", acc.Name, u.Name+u.Nkey)
			}
			users[u.Name+u.Nkey] = true
		}
	}
	if err := broker.ValidateAccounts(a.Accounts); err != nil {
		path, reason, _ := strings.Cut(err.Error(), ": ")
		if v := k.where[path]; v != nil {
			return v.Errorf("%s", reason)
		}
		return err
	}
	if v := k.noAuthUser; v != nil && !users[v.Str] {
		// nats-server's text.
		return v.Errorf("%q not present as user or nkey in authorization block or account configuration", v.Str)
	}
	o.Auth = a
	return nil
}

// decodeAccounts reads accounts { NAME: { users, exports, imports,
// jetstream }, ... }, noting in where the position of each export and
// import; each account's jetstream key goes to js.
func decodeAccounts(v *conf.Value, where map[string]*conf.Value, js *jsFlags) ([]broker.Account, error) {
	m, err := v.AsMap()
	if err != nil {
		return nil, err
	}
	var out []broker.Account
	seen := map[string]*conf.Field{}
	for _, f := range m.Fields {
		if f.Key == broker.GlobalAccount {
			return nil, f.Value.Errorf("%s is the global account; its users go under authorization", f.Key)
		}
		if first := seen[f.Key]; first != nil {
			return nil, f.Value.Errorf("account %q defined twice (first at %s)", f.Key, first.Pos)
		}
		seen[f.Key] = f
		acc := broker.Account{Name: f.Key}
		if f.Value.Kind == conf.Block {
			err := block(keys{
				"users": func(v *conf.Value) (err error) {
					acc.Users, err = decodeUsers(v)
					return err
				},
				"exports": func(v *conf.Value) (err error) {
					acc.Exports, err = decodeExports(v)
					note(where, v, "accounts."+acc.Name+".exports")
					return err
				},
				"imports": func(v *conf.Value) (err error) {
					acc.Imports, err = decodeImports(v)
					note(where, v, "accounts."+acc.Name+".imports")
					return err
				},
				"mappings":  mappings(&acc.Mappings),
				"maps":      mappings(&acc.Mappings),
				"jetstream": js.accountKey(acc.Name),
				"limits":    accountLimits(&acc),
			})(f.Value)
			if err != nil {
				return nil, err
			}
		} else if f.Value.Kind != conf.Block {
			return nil, f.Value.Errorf("want a block of users, exports and imports, got %s", f.Value.Kind)
		}
		out = append(out, acc)
	}
	return out, nil
}

// decodeExports reads exports [ {stream | service, accounts,
// response_type, response_threshold}, ... ].
func decodeExports(v *conf.Value) ([]broker.Export, error) {
	list, err := v.AsArray()
	if err != nil {
		return nil, err
	}
	var out []broker.Export
	for _, e := range list {
		var x broker.Export
		err := block(keys{
			"stream":             str(&x.Stream),
			"service":            str(&x.Service),
			"accounts":           stringSlice(&x.Accounts),
			"response_type":      str(&x.ResponseType),
			"response_threshold": duration(&x.ResponseThreshold),
		})(e)
		if err != nil {
			return nil, err
		}
		if (x.Stream == "") == (x.Service == "") {
			return nil, e.Errorf("set stream or service")
		}
		out = append(out, x)
	}
	return out, nil
}

// decodeImports reads imports [ {stream: {account, subject}, prefix | to},
// {service: {account, subject}, to}, ... ].
func decodeImports(v *conf.Value) ([]broker.Import, error) {
	list, err := v.AsArray()
	if err != nil {
		return nil, err
	}
	var out []broker.Import
	for _, e := range list {
		var im broker.Import
		source := func(subject *string) setter {
			return block(keys{"account": str(&im.Account), "subject": str(subject)})
		}
		err := block(keys{
			"stream":  source(&im.Stream),
			"service": source(&im.Service),
			"prefix":  str(&im.Prefix),
			"to":      str(&im.To),
		})(e)
		if err != nil {
			return nil, err
		}
		switch {
		case (im.Stream == "") == (im.Service == ""):
			return nil, e.Errorf("set stream or service, each {account, subject}")
		case im.Account == "":
			return nil, e.Errorf("the import names no account")
		}
		out = append(out, im)
	}
	return out, nil
}

// note records the position of each element of the list v under
// "<path>[i]", and of each key of an element under "<path>[i].<key>", so
// an error about one key ("accounts.B.imports[0].to: ...") points at it.
func note(where map[string]*conf.Value, v *conf.Value, path string) {
	list, err := v.AsArray()
	if err != nil {
		return
	}
	for i, e := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		where[p] = e
		if e.Kind == conf.Block {
			for _, f := range e.Map.Fields {
				where[p+"."+f.Key] = f.Value
			}
		}
	}
}

// decodeCallout reads auth_callout { issuer, account, auth_users, xkey }
// (nats-server's keys and aliases).
func decodeCallout(v *conf.Value) (*broker.AuthCallout, error) {
	c := &broker.AuthCallout{}
	var issuer, xkey *conf.Value
	users := func(v *conf.Value) (err error) { c.AuthUsers, err = v.AsStrings(); return err }
	err := block(keys{
		"issuer":           keep(&issuer),
		"account":          str(&c.Account),
		"acc":              str(&c.Account),
		"auth_users":       users,
		"users":            users,
		"xkey":             keep(&xkey),
		"key":              keep(&xkey),
		"allowed_accounts": func(v *conf.Value) error { _, err := v.AsStrings(); return err },
	})(v)
	if err != nil {
		return nil, err
	}
	switch {
	case issuer == nil:
		return nil, v.Errorf("issuer: the account public key that signs the answers is required")
	case !nkeys.IsValidPublicAccountKey(issuer.Str):
		return nil, issuer.Errorf("%q is not an account public key", issuer.Str)
	case xkey != nil && !nkeys.IsValidPublicCurveKey(xkey.Str):
		return nil, xkey.Errorf("%q is not a public curve key", xkey.Str)
	}
	c.Issuer = issuer.Str
	if xkey != nil {
		c.XKey = xkey.Str
	}
	return c, nil
}
