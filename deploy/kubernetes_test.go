package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		ClusterIP                string           `yaml:"clusterIP"`
		PublishNotReadyAddresses bool             `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]any   `yaml:"selector"`
		Ports                    []k8sPort        `yaml:"ports"`
		ServiceName              string           `yaml:"serviceName"`
		Replicas                 int              `yaml:"replicas"`
		Template                 k8sPodTemplate   `yaml:"template"`
		VolumeClaimTemplates     []map[string]any `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	Port          int    `yaml:"port"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		SecurityContext struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Containers []struct {
			Args []string `yaml:"args"`
			Env  []struct {
				Name string `yaml:"name"`
			} `yaml:"env"`
			Ports          []k8sPort `yaml:"ports"`
			StartupProbe   *k8sProbe `yaml:"startupProbe"`
			ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
			LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
			VolumeMounts   []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
		Volumes []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

// TestKubernetesExample checks deploy/kubernetes/murmur.yaml as the API
// server and the broker would read it: the StatefulSet's pods are governed
// by a headless Service that publishes unready pods, whose name is the
// gossip seed; the probes hit /healthz on the monitor port; every port the
// config listens on is a container port; and the ConfigMap's config, with
// the container's arguments, passes `murmur -t`.
func TestKubernetesExample(t *testing.T) {
	raw, err := os.ReadFile("kubernetes/murmur.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]k8sObject{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("murmur.yaml: %v", err)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	sts, ok := objs["StatefulSet/murmur"]
	if !ok {
		t.Fatalf("no StatefulSet/murmur in %v", keys(objs))
	}
	headless, ok := objs["Service/"+sts.Spec.ServiceName]
	if !ok {
		t.Fatalf("the StatefulSet's serviceName %q is no Service", sts.Spec.ServiceName)
	}
	if headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service/%s: clusterIP %q publishNotReadyAddresses %v: want a headless Service that publishes unready pods",
			headless.Metadata.Name, headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	labels := sts.Spec.Template.Metadata.Labels
	for name, svc := range map[string]k8sObject{"headless": headless, "client": objs["Service/murmur"]} {
		if len(svc.Spec.Selector) == 0 {
			t.Errorf("%s Service: no selector", name)
		}
		for k, v := range svc.Spec.Selector {
			if labels[k] != v {
				t.Errorf("%s Service selects %s=%v, which the pods do not carry (%v)", name, k, v, labels)
			}
		}
	}
	if sts.Spec.Replicas < 3 {
		t.Errorf("replicas %d: want 3 for a cluster", sts.Spec.Replicas)
	}
	if !sts.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("pods may run as root")
	}
	if len(sts.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(sts.Spec.Template.Spec.Containers))
	}
	c := sts.Spec.Template.Spec.Containers[0]

	cm := objs["ConfigMap/murmur-config"]
	conf := cm.Data["murmur.conf"]
	if !strings.Contains(conf, `seeds: ["`+headless.Metadata.Name+`:4248"]`) {
		t.Errorf("the config's gossip seed is not the headless Service %s:\n%s", headless.Metadata.Name, conf)
	}
	mounted := false
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name {
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/etc/murmur")
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /etc/murmur", cm.Metadata.Name)
	}

	ports := map[string]k8sPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	for _, want := range []k8sPort{
		{Name: "client", ContainerPort: 4222, Protocol: "TCP"}, {Name: "monitor", ContainerPort: 8222, Protocol: "TCP"},
		{Name: "route", ContainerPort: 6222, Protocol: "TCP"}, {Name: "gossip", ContainerPort: 4248, Protocol: "TCP"},
		{Name: "gossip-udp", ContainerPort: 4248, Protocol: "UDP"}, {Name: "quic", ContainerPort: 4224, Protocol: "UDP"},
		{Name: "websocket", ContainerPort: 8080, Protocol: "TCP"},
	} {
		if ports[want.Name] != want {
			t.Errorf("container port %s: %+v, want %+v", want.Name, ports[want.Name], want)
		}
	}
	for name, p := range map[string]*k8sProbe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet.Path != "/healthz" || ports[p.HTTPGet.Port].ContainerPort != 8222 {
			t.Errorf("%s probe %+v: want GET /healthz on the monitor port", name, p)
		}
	}
	for _, p := range headless.Spec.Ports {
		if !slices.ContainsFunc(c.Ports, func(cp k8sPort) bool { return cp.ContainerPort == p.Port && cp.Protocol == p.Protocol }) {
			t.Errorf("headless Service port %+v is no container port", p)
		}
	}

	// The container's arguments with what Kubernetes substitutes.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "murmur.conf"), []byte(conf), 0o644)
	args := slices.Clone(c.Args)
	env := map[string]string{"POD_NAME": "murmur-0", "POD_IP": "10.1.2.3"}
	for i, a := range args {
		for k, v := range env {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args[i] = strings.ReplaceAll(a, "/etc/murmur/murmur.conf", "murmur.conf")
	}
	var envNames []string
	for _, e := range c.Env {
		envNames = append(envNames, e.Name)
	}
	if !slices.Contains(envNames, "MURMUR_GOSSIP_KEY") {
		t.Errorf("the container gets no MURMUR_GOSSIP_KEY, which the config reads")
	}
	brokerTest(t, dir, []string{testGossipKey}, args...)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
