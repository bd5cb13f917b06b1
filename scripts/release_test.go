// Package scripts_test runs the repository's scripts as an operator would.
package scripts_test

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/murmurmq/murmur/broker"
)

// TestReleaseBuild runs scripts/release.sh for this machine's target into
// a temporary directory and checks what an operator downloads: the
// SHA256SUMS match the files, the binary is static and prints the stamped
// version and commit, and THIRD_PARTY_LICENSES covers every module linked
// in. (The other targets are the same command with other GOOS/GOARCH; a
// cold cross build of each takes minutes here, so CI builds only this one.)
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary")
	}
	out := t.TempDir()
	target := runtime.GOOS + "/" + runtime.GOARCH
	const version = "9.8.7-test.1"
	cmd := exec.Command("sh", "release.sh", target)
	cmd.Env = append(os.Environ(), "OUT="+out, "VERSION="+version)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh %s: %v\n%s", target, err, b)
	}

	sums := readSums(t, filepath.Join(out, "SHA256SUMS"))
	bin := "murmur-" + version + "-" + runtime.GOOS + "-" + runtime.GOARCH
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	for _, want := range []string{bin, "LICENSE", "NOTICE", "THIRD_PARTY_LICENSES"} {
		if _, ok := sums[want]; !ok {
			t.Errorf("SHA256SUMS has no line for %s: %v", want, sums)
		}
	}
	for name, sum := range sums {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("SHA256SUMS names %s: %v", name, err)
			continue
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, h, sum)
		}
	}

	binPath := filepath.Join(out, bin)
	v, err := exec.Command(binPath, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -v: %v: %s", bin, err, v)
	}
	commit := expectedCommit(t)
	if want := "murmur version " + version + " (nats-server " + broker.ServerVersion + " level), commit " + commit + ", " + runtime.Version(); strings.TrimSpace(string(v)) != want {
		t.Errorf("%s -v:\n got %q\nwant %q", bin, strings.TrimSpace(string(v)), want)
	}

	if runtime.GOOS == "linux" {
		f, err := elf.Open(binPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		libs, _ := f.ImportedLibraries()
		if len(libs) > 0 || f.Section(".interp") != nil {
			t.Errorf("%s is dynamically linked (%v): want CGO_ENABLED=0", bin, libs)
		}
	}

	bi, err := buildinfo.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	licenses, err := os.ReadFile(filepath.Join(out, "THIRD_PARTY_LICENSES"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bi.Deps) < 10 {
		t.Fatalf("build info lists only %d modules", len(bi.Deps))
	}
	for _, d := range bi.Deps {
		if !strings.Contains(string(licenses), "\n"+d.Path+" "+d.Version+"\n") {
			t.Errorf("THIRD_PARTY_LICENSES has no section for %s %s", d.Path, d.Version)
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "-trimpath" && s.Value != "true" {
			t.Errorf("built without -trimpath")
		}
	}
}

// TestReleaseRefusesBadInput: a target or version the script cannot build
// is one clear line, not a half-written dist/.
func TestReleaseRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"plan9/mips"}, "VERSION=1.0.0", `unknown target "plan9/mips"`},
		{[]string{"linux/amd64"}, "VERSION=1.0 beta", `bad VERSION "1.0 beta"`},
		// No VERSION and no tag: broker.Version with -dev, so the script
		// gets as far as the targets (it once read a stale file and
		// refused "-dev", which broke the documented image build).
		{[]string{"plan9/mips"}, "VERSION=", `unknown target "plan9/mips"`},
	} {
		cmd := exec.Command("sh", append([]string{"release.sh"}, c.args...)...)
		cmd.Env = append(os.Environ(), "OUT="+t.TempDir(), c.env)
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), c.want) {
			t.Errorf("release.sh %v with %s: %v %q, want an error with %q", c.args, c.env, err, b, c.want)
		}
	}
}

// expectedCommit is what release.sh stamps by default: HEAD, marked
// dirty when tracked files have changes.
func expectedCommit(t *testing.T) string {
	t.Helper()
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	commit := strings.TrimSpace(string(head))[:7] // as broker.GitCommit shortens it
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	if len(strings.TrimSpace(string(status))) > 0 {
		commit += "-dirty"
	}
	return commit
}

// readSums parses sha256sum's output: "<hex>  <name>" per line.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}
