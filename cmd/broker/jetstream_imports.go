package main

import "github.com/murmurmq/murmur/broker"

// jsAllAPI is the whole JetStream API's subject space.
const jsAllAPI = "$JS.API.>"

// importsJetStreamAPI reports whether an account with these imports (its
// configuration's or its JWT's) imports the JetStream API ($JS.API.> as
// its local subject) as a service from another account. Its clients'
// requests are then that account's JetStream's to answer, and no refuser
// may answer beside it with 10039: nats-server sets up its own $JS.API.>
// import only in an account that has none (Account.serviceImportExists
// in enableAllJetStreamServiceImportsAndMappings).
func importsJetStreamAPI(imports []broker.Import) bool {
	for _, im := range imports {
		local := im.To
		if local == "" {
			local = im.Service
		}
		if im.Service != "" && local == jsAllAPI {
			return true
		}
	}
	return false
}
