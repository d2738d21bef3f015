package main

// Spec 1.1.0 ADD/CHECK/DEL. libcni 1.1.2 cannot parse a 1.1.0 result ("unsupported CNI
// result version"), so for a conflist at 1.1.0 this file chains the plugins itself on
// libcni's exec layer, the way libcni 1.2 does: each plugin gets the list's name and
// cniVersion, the previous plugin's result as prevResult and the capability arguments it
// declares as runtimeConfig; DEL runs in reverse order with the cached result. The result
// is cached in libcni's own cache file format (cniCacheV1).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
)

const rawVersion = "1.1.0"

type cacheFile struct {
	Kind           string                 `json:"kind"`
	ContainerID    string                 `json:"containerId"`
	Config         []byte                 `json:"config"`
	IfName         string                 `json:"ifName"`
	NetworkName    string                 `json:"networkName"`
	CniArgs        [][2]string            `json:"cniArgs,omitempty"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs,omitempty"`
	Result         map[string]interface{} `json:"result,omitempty"`
}

func cachePath(list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) string {
	dir := os.Getenv("CNI_CACHE_DIR")
	if dir == "" {
		dir = "/var/lib/cni"
	}
	return filepath.Join(dir, "results", fmt.Sprintf("%s-%s-%s", list.Name, rt.ContainerID, rt.IfName))
}

// rawVerb runs ADD, CHECK or DEL for a 1.1.0 list; ADD returns the last plugin's result.
func rawVerb(ctx context.Context, verb string, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, path []string) ([]byte, error) {
	var prev map[string]interface{}
	cache := cachePath(list, rt)
	if verb != "ADD" {
		if data, err := os.ReadFile(cache); err == nil {
			var c cacheFile
			if err := json.Unmarshal(data, &c); err != nil {
				return nil, fmt.Errorf("cached result %s: %w", cache, err)
			}
			prev = c.Result
		}
	}
	plugins := list.Plugins
	if verb == "DEL" {
		plugins = make([]*libcni.NetworkConfig, len(list.Plugins))
		for i, p := range list.Plugins {
			plugins[len(list.Plugins)-1-i] = p
		}
	}
	exec := &invoke.RawExec{Stderr: os.Stderr}
	args := &invoke.Args{
		Command: verb, ContainerID: rt.ContainerID, NetNS: rt.NetNS, IfName: rt.IfName,
		PluginArgs: rt.Args, Path: strings.Join(path, string(os.PathListSeparator)),
	}
	var out []byte
	for _, p := range plugins {
		inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
		if prev != nil {
			inject["prevResult"] = prev
		}
		rc := map[string]interface{}{}
		for c, on := range p.Network.Capabilities {
			if v, ok := rt.CapabilityArgs[c]; on && ok {
				rc[c] = v
			}
		}
		if len(rc) > 0 {
			inject["runtimeConfig"] = rc
		}
		conf, err := libcni.InjectConf(p, inject)
		if err != nil {
			return nil, err
		}
		bin, err := invoke.FindInPath(p.Network.Type, path)
		if err != nil {
			return nil, err
		}
		out, err = exec.ExecPlugin(ctx, bin, conf.Bytes, args.AsEnv())
		if err != nil {
			return nil, fmt.Errorf("plugin type=%q failed (%s): %w", p.Network.Type, strings.ToLower(verb), err)
		}
		if verb == "ADD" {
			var res map[string]interface{}
			if err := json.Unmarshal(out, &res); err != nil {
				return nil, fmt.Errorf("plugin type=%q: result is not JSON: %w", p.Network.Type, err)
			}
			if v := res["cniVersion"]; v != list.CNIVersion {
				return nil, fmt.Errorf("plugin type=%q: result cniVersion %v, config %s", p.Network.Type, v, list.CNIVersion)
			}
			prev = res
		}
	}
	switch verb {
	case "ADD":
		c := cacheFile{Kind: "cniCacheV1", ContainerID: rt.ContainerID, Config: list.Bytes,
			IfName: rt.IfName, NetworkName: list.Name, CniArgs: rt.Args,
			CapabilityArgs: rt.CapabilityArgs, Result: prev}
		data, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(cache, data, 0o600); err != nil {
			return nil, err
		}
		return json.MarshalIndent(prev, "", "    ")
	case "DEL":
		if err := os.Remove(cache); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	return nil, nil
}
