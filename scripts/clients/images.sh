#!/usr/bin/env bash
# Makes the offline images the client tests run, into the cache, and prints their dir:
#   busybox-rootfs.tar  busybox (from busybox-static) as a root filesystem, for `podman import`
#   busybox-oci.tar     the same as OCI image localhost/busybox:latest, for `ctr images import`
#   pause-oci.tar       localhost/podnet-pause:1, a static pause (tools/images/pause.c): the
#                       CRI's sandbox image, never pulled
# Cache key: the sources, this script, busybox's and gcc's versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tools=$REPO/tools/images
[ -x /bin/busybox ] && [ -x /usr/bin/gcc ] ||
  die "images need busybox-static and gcc: run scripts/clients/install.sh"
key=$({ dpkg-query -W busybox-static; gcc --version | head -1
        hash_files "$0" "$tools/pause.c" "$tools/oci_archive.py"; } | key_of)
out=$CACHE/images/$key
if [ ! -f "$out/pause-oci.tar" ]; then
  building images
  lock images
fi
if [ ! -f "$out/pause-oci.tar" ]; then
  tmp=$out.tmp
  rm -rf "$tmp" && mkdir -p "$tmp/rootfs/bin" "$tmp/pause"
  (
    cd "$tmp/rootfs"
    # Mount points a runtime needs, /etc for the files it writes (hosts, resolv.conf).
    mkdir -p proc sys dev etc tmp root var/run
    cp /bin/busybox bin/busybox
    for applet in $(bin/busybox --list); do
      [ "$applet" = busybox ] || ln -s busybox "bin/$applet"
    done
    ln -s bin sbin
    echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
    echo 'root:x:0:' > etc/group
  )
  gcc -O2 -static -s -o "$tmp/pause/pause" "$tools/pause.c"
  tarit() { tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$1" -cf "$2" .; }
  tarit "$tmp/rootfs" "$tmp/busybox-rootfs.tar"
  tarit "$tmp/pause" "$tmp/pause-layer.tar"
  python3 "$tools/oci_archive.py" "$tmp/busybox-rootfs.tar" localhost/busybox:latest \
    "$tmp/busybox-oci.tar" /bin/sh >/dev/null
  python3 "$tools/oci_archive.py" "$tmp/pause-layer.tar" localhost/podnet-pause:1 \
    "$tmp/pause-oci.tar" /pause >/dev/null
  rm -rf "$tmp/rootfs" "$tmp/pause" "$tmp/pause-layer.tar"
  publish_dir "$tmp" "$out"
fi
used "$out"
echo "$out"
