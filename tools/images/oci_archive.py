#!/usr/bin/env python3
"""Writes a one-layer OCI image archive (the oci-layout tar that `ctr images import` and
`podman load` read) from a root filesystem tar, offline and byte-for-byte reproducible.

    oci_archive.py ROOTFS.tar NAME:TAG OUT.tar ENTRYPOINT...

The image is registered under NAME:TAG through the index annotations containerd reads
(io.containerd.image.name) and the OCI one (org.opencontainers.image.ref.name)."""
import hashlib
import io
import json
import sys
import tarfile


def blob(blobs, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs.append((digest, data))
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    rootfs, name, out, entrypoint = argv[1], argv[2], argv[3], argv[4:]
    if ":" not in name.rsplit("/", 1)[-1]:
        sys.exit(f"{name}: want NAME:TAG")
    blobs = []
    with open(rootfs, "rb") as f:
        layer_bytes = f.read()
    layer = blob(blobs, layer_bytes, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": entrypoint,
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/",
        },
        # Uncompressed layer: its diff id is its own digest.
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }
    cfg = blob(blobs, canonical(config), "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": [layer],
    }
    man = blob(blobs, canonical(manifest), "application/vnd.oci.image.manifest.v1+json")
    man["platform"] = {"architecture": "amd64", "os": "linux"}
    man["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
    }
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [man],
    }
    files = [("oci-layout", canonical({"imageLayoutVersion": "1.0.0"})),
             ("index.json", canonical(index))]
    files += [("blobs/sha256/" + d.split(":", 1)[1], data) for d, data in blobs]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    print(f"{out}: {name} {man['digest']}")


if __name__ == "__main__":
    main(sys.argv)
