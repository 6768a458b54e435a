"""Every real-world file in the shared corpus is processed without a crash:
parse failures are located findings and a non-zero exit, never a traceback."""

import os
import subprocess
import sys

import pytest

from conftest import CORPUS, REPO, corpus_or_skip


def _corpus_files(*subdirs):
    if not CORPUS.is_dir():
        return []
    out = []
    for sub in subdirs:
        for dirpath, _, filenames in os.walk(CORPUS / sub):
            out.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return sorted(out)


@pytest.mark.parametrize("path", _corpus_files("k8s", "nginx", "cni", "kubelet") or ["<no corpus>"])
def test_each_corpus_file_lints_without_a_crash(project, path):
    corpus_or_skip()
    run = project.run("--format", "json", path, cwd=REPO)
    assert run.status in (0, 1)
    findings = run.json["findings"]
    for finding in findings:
        assert finding["location"]["line"] >= 1 and finding["location"]["column"] >= 1
    # exit status 1 exactly when there is something to report
    assert run.status == (1 if findings else 0)


def test_whole_corpus_in_one_run_through_the_console_entry(tmp_path):
    corpus = corpus_or_skip()
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", str(corpus)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith("somaxlint: ") and " unparsable" in summary
    # The known-broken files are reported where they break.
    broken = {
        "k8s/kubernetes-examples/_archived/openshift-origin/etcd-controller.yaml:12:3",
        "nginx/crossplane-tests/configs/bad-args/nginx.conf:1:1",
        # where nginx -t says 'unexpected "}"': the brace that ends the
        # directive without its `;`
        "nginx/crossplane-tests/configs/missing-semicolon/broken-above.conf:5:9",
        "nginx/crossplane-tests/configs/missing-semicolon/broken-below.conf:8:9",
    }
    reported = {
        line.split(": SMX000")[0].split("/corpus/", 1)[1] for line in proc.stdout.splitlines() if ": SMX000 " in line
    }
    assert broken <= reported
