// Package deploy holds the files that run Murmur in production (the
// container image, compose, systemd and Kubernetes examples, the Grafana
// dashboard; see README.md) and the tests that check them. It is its own
// module so the main module's tests do not build images.
package deploy
