"""Kernel cases of CoreDNS (linter/servers/coredns.py): the listeners of a
Corefile mounted from the `coredns` ConfigMap (`-conf
/etc/coredns/Corefile`, as the kube-system Deployment runs it), whose
queue is the pod's somaxconn.

No CoreDNS binary is run: CoreDNS is not packaged in Debian, PyPI or npm
(NOT_KERNEL_CHECKED in the module).  As for Traefik (test_servers_truth.py),
a small Go program stands in for it, built with the packaged Go toolchain
(Debian golang-go, no module, nothing downloaded) into a temp dir under the
name `coredns`.  It listens as CoreDNS does: every TCP socket through
`net.ListenConfig{Control: control}.Listen("tcp", addr)`, the control
setting SO_REUSEPORT (coredns/coredns @ 4b26cced,
plugin/pkg/reuseport/listen_reuseport.go -- `syscall.SetsockoptInt(fd,
SOL_SOCKET, 15, 1)` here, golang.org/x/sys/unix's SO_REUSEPORT there: the
same setsockopt), one socket per
`multisocket` server on a port (core/dnsserver/register.go:312-322).
The stand-in does not parse the Corefile: each case names the addresses
CoreDNS opens for its Corefile (STAND_IN below, from the CoreDNS sources
the module cites), passed to the stand-in as `-standin-listen ADDR,...`
before the manifest's own words, which it checks (the `-conf` file must
exist at its ROOT path) and otherwise ignores.  So these cases measure
the Go class -- Send-Q of a reuseport listener against the namespace's
somaxconn, `0.0.0.0` as Go's one dual-stack socket, N sockets for
multisocket N -- and the module's ports and addresses against what the
stand-in was told, not CoreDNS's own parser.  The image is coredns/coredns
(its entrypoint is /coredns: the manifest's args are CoreDNS's, so
ENTRYPOINT below prepends `coredns`).  It runs as root here (the image's
user 65532 with cap_net_bind_service binds :53 the same way).
"""

from __future__ import annotations

import os
import subprocess

from server_case import Case, executable

SERVERS = ("coredns",)
PROVIDED_BY = {"go": "Debian package golang-go"}
ENTRYPOINT = {"coredns": "coredns"}

IMAGE = "coredns/coredns:1.11.3"
CONF = "/etc/coredns/Corefile"

KUBE_DNS = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""

BIND_MULTISOCKET = """\
.:1053 {
    bind 0.0.0.0
    multisocket 3
    health 127.0.0.1:8091
    whoami
}
"""

TWO_BLOCKS = """\
. {
    whoami
    prometheus 127.0.0.1:9253
}
example.org:1054 {
    whoami
}
"""


def _coredns(corefile, somaxconn, ports, more=(), args=("-conf", CONF)):
    return Case("coredns", ports[0], somaxconn, IMAGE, args=tuple(args), files=((CONF, corefile),), more_ports=tuple(more),
                ready="listening on")


CASES = {
    # the kube-dns Corefile: DNS over TCP on 53, health :8080, ready :8181,
    # prometheus :9153 -- every one at the kernel's 4096
    "coredns: kube-dns Corefile, kernel default somaxconn": _coredns(KUBE_DNS, None, (53,), (8080, 8181, 9153)),
    # the same cut to 128 (Linux < 5.4 without a pod sysctl)
    "coredns: kube-dns Corefile, somaxconn 128": _coredns(KUBE_DNS, 128, (53,), (8080, 8181, 9153)),
    # bind 0.0.0.0 (Go: one dual-stack socket) with multisocket 3 (three
    # reuseport sockets on 1053), health on 127.0.0.1, somaxconn raised
    "coredns: bind 0.0.0.0, multisocket 3, somaxconn 1000": _coredns(BIND_MULTISOCKET, 1000, (1053,), (8091,)),
    # -dns.port for the block without a port, a zone on its own port
    "coredns: -dns.port 5300, two server blocks, somaxconn 2000": _coredns(
        TWO_BLOCKS, 2000, (5300,), (1054, 9253), args=("-conf", CONF, "-dns.port", "5300")
    ),
}

# what CoreDNS opens for each case's Corefile: (address, sockets), in order
STAND_IN = {
    "coredns: kube-dns Corefile, kernel default somaxconn": ((":53", 1), (":8080", 1), (":8181", 1), (":9153", 1)),
    "coredns: kube-dns Corefile, somaxconn 128": ((":53", 1), (":8080", 1), (":8181", 1), (":9153", 1)),
    "coredns: bind 0.0.0.0, multisocket 3, somaxconn 1000": (("0.0.0.0:1053", 3), ("127.0.0.1:8091", 1)),
    "coredns: -dns.port 5300, two server blocks, somaxconn 2000": ((":5300", 1), (":1054", 1), ("127.0.0.1:9253", 1)),
}

GO_STAND_IN = """\
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SO_REUSEPORT on Linux (golang.org/x/sys/unix.SO_REUSEPORT; the frozen
// syscall package does not define it)
const soReusePort = 0xf

// as coredns plugin/pkg/reuseport/listen_reuseport.go control()
func control(_network, _address string, c syscall.RawConn) error {
	c.Control(func(fd uintptr) {
		if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1); err != nil {
			fmt.Fprintln(os.Stderr, "SO_REUSEPORT:", err)
		}
	})
	return nil
}

func main() {
	args := os.Args[1:]
	if len(args) < 2 || args[0] != "-standin-listen" {
		fmt.Fprintln(os.Stderr, "usage: coredns -standin-listen ADDR*N,... CORE-DNS-ARGS")
		os.Exit(2)
	}
	for i, a := range args {
		if a == "-conf" && i+1 < len(args) {
			if _, err := os.Stat(args[i+1]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	var lns []net.Listener
	for _, spec := range strings.Split(args[1], ",") {
		addr, count := spec, 1
		if at := strings.LastIndex(spec, "*"); at >= 0 {
			addr = spec[:at]
			count, _ = strconv.Atoi(spec[at+1:])
		}
		for n := 0; n < count; n++ {
			lc := net.ListenConfig{Control: control}
			ln, err := lc.Listen(context.Background(), "tcp", addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			lns = append(lns, ln)
		}
	}
	for _, ln := range lns {
		go func(ln net.Listener) {
			for {
				if conn, err := ln.Accept(); err == nil {
					conn.Close()
				}
			}
		}(ln)
	}
	fmt.Println("listening on", len(lns), "sockets")
	select {}
}
"""

_BUILT = {}


def _binary(request) -> str:
    if "coredns" not in _BUILT:
        go = executable("go")
        build = request.getfixturevalue("tmp_path_factory").mktemp("coredns-go")
        (build / "main.go").write_text(GO_STAND_IN)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(build),
            "GOCACHE": str(build / "cache"),
            "GOPATH": str(build / "gopath"),
            "GO111MODULE": "off",
            "GOTOOLCHAIN": "local",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
        }
        proc = subprocess.run([go, "build", "-o", "coredns", "main.go"], cwd=build, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"go build failed:\n{proc.stderr}"
        _BUILT["coredns"] = str(build / "coredns")
    return _BUILT["coredns"]


def runnable(case, root, argv, request):
    assert argv[0] == "coredns", argv
    [name] = [n for n, c in CASES.items() if c is case]
    listen = ",".join(f"{address}*{count}" for address, count in STAND_IN[name])
    return [_binary(request), "-standin-listen", listen] + argv[1:]
