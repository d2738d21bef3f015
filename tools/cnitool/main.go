// cnitool: podnet's test driver of CNI plugins through libcni, the library Podman's CNI
// backend and containerd's go-cni use (conflist chaining, prevResult, capability args,
// the result cache). Built offline from Debian's golang-go + golang-github-appc-cni-dev
// (libcni 1.1.2) by scripts/clients/cnitool.sh.
//
//	cnitool add|check|del NETNAME NETNS_PATH   libcni's AddNetworkList, CheckNetworkList, DelNetworkList
//	cnitool version NETNAME                     each plugin's VERSION answer (libcni GetVersionInfo)
//	cnitool validate NETNAME                    libcni ValidateNetworkList
//	cnitool gc NETNAME                          GC (spec 1.1) to each plugin of the list
//	cnitool status NETNAME                      STATUS (spec 1.1) to each plugin of the list
//
// Environment, as upstream cnitool reads it:
//
//	NETCONFPATH      directory of the .conf/.conflist files (default /etc/cni/net.d)
//	CNI_PATH         plugin directories, ':'-separated
//	CNI_CONTAINERID  default: derived from the netns path
//	CNI_IFNAME       default eth0
//	CNI_ARGS         "K=V;K2=V2", passed on to the plugins
//	CAP_ARGS         JSON object of capability arguments (portMappings, ips, mac, ...),
//	                 injected as runtimeConfig into the plugins that declare them
//	CNI_CACHE_DIR    libcni's result cache (default /var/lib/cni)
//	CNI_VALID_ATTACHMENTS  for gc: JSON list of {"containerID":..,"ifname":..}
//
// libcni 1.1.2 knows spec versions up to 1.0.0 and has neither GC nor STATUS (they came in
// libcni 1.2). So:
//   - a conflist at cniVersion 1.1.0 is driven by spec11.go (its own chaining on libcni's
//     exec layer, as libcni 1.2 does; libcni 1.1.2 would fail "unsupported CNI result
//     version"); any other version goes through libcni itself;
//   - gc and status are sent through libcni's exec layer, shaped as the 1.1 spec says: the
//     plugin's config with name and cniVersion injected, plus "cni.dev/valid-attachments"
//     (and the older "cni.dev/attachments") for GC; CNI_COMMAND and CNI_PATH set, the
//     per-container variables empty.
package main

import (
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
)

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	cmd, name := os.Args[1], os.Args[2]
	confdir := env("NETCONFPATH", "/etc/cni/net.d")
	list, err := libcni.LoadConfList(confdir, name)
	if err != nil {
		die(err)
	}
	path := filepath.SplitList(os.Getenv("CNI_PATH"))
	cni := libcni.NewCNIConfigWithCacheDir(path, os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	switch cmd {
	case "add", "check", "del":
		if len(os.Args) != 4 {
			usage()
		}
		rt, err := runtimeConf(os.Args[3])
		if err != nil {
			die(err)
		}
		if list.CNIVersion == rawVersion {
			out, err := rawVerb(ctx, strings.ToUpper(cmd), list, rt, path)
			if err != nil {
				die(err)
			}
			if out != nil {
				fmt.Println(string(out))
			}
			return
		}
		switch cmd {
		case "add":
			res, err := cni.AddNetworkList(ctx, list, rt)
			if err != nil {
				die(err)
			}
			if err := res.Print(); err != nil {
				die(err)
			}
		case "check":
			err = cni.CheckNetworkList(ctx, list, rt)
		case "del":
			err = cni.DelNetworkList(ctx, list, rt)
		}
	case "version":
		for _, p := range list.Plugins {
			info, err := cni.GetVersionInfo(ctx, p.Network.Type)
			if err != nil {
				die(fmt.Errorf("plugin %s: %w", p.Network.Type, err))
			}
			fmt.Printf("%s %s\n", p.Network.Type, strings.Join(info.SupportedVersions(), ","))
		}
	case "validate":
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			die(err)
		}
		fmt.Println(strings.Join(caps, ","))
	case "gc", "status":
		err = spec11(ctx, cni, path, list, strings.ToUpper(cmd))
	default:
		usage()
	}
	if err != nil {
		die(err)
	}
}

// spec11 sends GC or STATUS to every plugin of the list, in order, as libcni 1.2 does.
func spec11(ctx context.Context, cni *libcni.CNIConfig, path []string, list *libcni.NetworkConfigList, verb string) error {
	inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
	if verb == "GC" {
		valid := []map[string]string{}
		if v := os.Getenv("CNI_VALID_ATTACHMENTS"); v != "" {
			if err := json.Unmarshal([]byte(v), &valid); err != nil {
				return fmt.Errorf("CNI_VALID_ATTACHMENTS: %w", err)
			}
		}
		inject["cni.dev/valid-attachments"] = valid
		inject["cni.dev/attachments"] = valid
	}
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}
	for _, p := range list.Plugins {
		conf, err := libcni.InjectConf(p, inject)
		if err != nil {
			return err
		}
		bin, err := exec.FindInPath(p.Network.Type, path)
		if err != nil {
			return err
		}
		args := &invoke.Args{Command: verb, Path: strings.Join(path, string(os.PathListSeparator))}
		if err := invoke.ExecPluginWithoutResult(ctx, bin, conf.Bytes, args, exec); err != nil {
			return fmt.Errorf("plugin %s (%s): %w", p.Network.Type, strings.ToLower(verb), err)
		}
	}
	return nil
}

func runtimeConf(netns string) (*libcni.RuntimeConf, error) {
	id := os.Getenv("CNI_CONTAINERID")
	if id == "" {
		id = fmt.Sprintf("cnitool-%x", sha512.Sum512([]byte(netns)))[:20]
	}
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: env("CNI_IFNAME", "eth0")}
	if a := os.Getenv("CNI_ARGS"); a != "" {
		for _, kv := range strings.Split(a, ";") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("CNI_ARGS: %q is not K=V", kv)
			}
			rt.Args = append(rt.Args, [2]string{k, v})
		}
	}
	if c := os.Getenv("CAP_ARGS"); c != "" {
		if err := json.Unmarshal([]byte(c), &rt.CapabilityArgs); err != nil {
			return nil, fmt.Errorf("CAP_ARGS: %w", err)
		}
	}
	return rt, nil
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del NETNAME NETNS_PATH | version|validate|gc|status NETNAME")
	os.Exit(2)
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "cnitool:", err)
	os.Exit(1)
}
