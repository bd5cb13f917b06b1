package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ProfileFlag is the flag of our cmd/broker that names a file to write a CPU
// profile of the whole run to; the broker writes it when it gets SIGTERM.
// It is the one place the harness names it (cmd/broker/main.go defines it).
const ProfileFlag = "-cpuprofile"

// natsServerPkg is the main package of the comparison broker; bench/go.mod
// pins its version (see tools.go).
const natsServerPkg = "github.com/nats-io/nats-server/v2"

// buildOurs builds cmd/broker of the repository at root into dir.
func buildOurs(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "murmur")
	return out, goBuild(ctx, root, out, "./cmd/broker")
}

// buildNATS builds the pinned nats-server into dir, from the bench module.
func buildNATS(ctx context.Context, benchDir, dir string) (string, error) {
	out := filepath.Join(dir, "nats-server")
	return out, goBuild(ctx, benchDir, out, natsServerPkg)
}

func goBuild(ctx context.Context, inDir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = inDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, inDir, err, b)
	}
	return nil
}

// natsServerVersion reports the nats-server version bench/go.mod selects.
func natsServerVersion(ctx context.Context, benchDir string) string {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", natsServerPkg)
	cmd.Dir = benchDir
	b, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// supportsProfile reports whether bin lists ProfileFlag in its -h output.
func supportsProfile(bin string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput() // -h exits non-zero
	return strings.Contains(string(b), " "+ProfileFlag+" ")
}

// findRoots locates the bench module directory (the working directory, as
// with `cd bench && go run .`) and the repository root above it.
func findRoots() (benchDir, root string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	mod, err := os.ReadFile(filepath.Join(wd, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module github.com/murmurmq/murmur/bench") {
		return "", "", fmt.Errorf("run from the bench/ directory (no bench go.mod in %s)", wd)
	}
	return wd, filepath.Dir(wd), nil
}

// gitRevision returns the short commit of the repository, or "" if unknown.
// It only reads; it never touches the index.
func gitRevision(root string) string {
	b, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
