"""somaxlint on a real Jetty deployment: IBM/charts @ 6295f504,
`community/ibm-jetty-dev` (templates/deployment.yaml, values.yaml), which
runs `command: ["java","-jar", "/usr/local/jetty/start.jar"]` in image
`ibmcom/jetty-ppc64le:9.4.8`, with no args, no workingDir and no mounted
ini file.  The repository's LICENSE reserves all rights, so, as for
kiwix/k8s (PROVENANCE.md), the chart's output (helm_python
`Chart.render({"node": ""}, name="release-name")`: the chart includes a
`nodeaffinity` template it does not define) is reduced to lines written
for the test, not copied.

So (linter/servers/jetty.py): jetty-home's start.jar with the default
jetty.http.acceptQueueSize 0, the JDK's backlog 50, on one dual-stack
socket on 8080 (measured with Debian's jetty9 9.4); jetty.base is the
image's WORKDIR, which the input does not show (said).  50 is below the
128 of Linux 4.18: no truncation; SMX027 says the queue is small.
Tomcat's module, which also claims `java`, leaves start.jar to Jetty's:
no unread Tomcat (SMX018).
"""

from __future__ import annotations

import pytest

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-name-ibm-jetty-dev
spec:
  template:
    spec:
      containers:
        - name: ibm-jetty-dev
          image: "ibmcom/jetty-ppc64le:9.4.8"
          imagePullPolicy: IfNotPresent
          command: ["java","-jar", "/usr/local/jetty/start.jar"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
"""

ASSUMED = (
    "no jetty.base or workingDir: the image's WORKDIR (not in the input) is jetty.base, read as /; the start.ini and "
    "start.d/*.ini of jetty.base / (not in the input) are assumed to set no jetty.http.acceptQueueSize"
)


def _run(project, *args):
    project.write("jetty.yaml", MANIFEST, dedent=False)
    return project.run(*args, "--format", "json", "--kernel", "4.18", "jetty.yaml").json


def test_ibm_jetty_chart_listener(project):
    listeners = [l for l in _run(project, "explain")["listeners"] if l["server"] == "jetty"]
    assert [
        (l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ] == [("*", 8080, 1, 50, 50, "12:21", [ASSUMED])]
    findings = _run(project, "check")["findings"]
    assert [(f["rule"], f"{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX027", "12:21", "info")
    ]
    assert findings[0]["message"].startswith("Jetty default jetty.http.acceptQueueSize 0: the JDK's default backlog 50 on *:8080")


def test_ibm_jetty_chart_is_not_an_unread_tomcat(project):
    assert [f["rule"] for f in _run(project, "check")["findings"] if f["rule"] == "SMX018"] == []
