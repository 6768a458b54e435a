"""Generate a realistic, seeded corpus for the benchmark.

At scale 1: about 2,000 YAML files holding 10,000 documents (Deployments
and StatefulSets with sysctls and privileged init containers, ConfigMaps
embedding nginx configs that the workloads mount, Services; some files
Helm-rendered with `# Source:` comments) and 1,000 standalone nginx files
in directories whose nginx.conf includes conf.d/*.conf.

    python bench/generate.py --out bench/out/corpus --seed 1 --scale 1
"""

from __future__ import annotations

import argparse
import os
import random
import textwrap

LISTENS = ["80", "8080", "127.0.0.1:8080", "[::]:443 ssl", "443 ssl", "unix:/run/app.sock"]
BACKLOGS = [None, None, 128, 511, 1024, 4096, 8192, 16384]


def nginx_server(rng: random.Random, index: int) -> str:
    listen = rng.choice(LISTENS)
    backlog = rng.choice(BACKLOGS)
    options = f" backlog={backlog}" if backlog else ""
    if rng.random() < 0.1:
        options += " reuseport"
    upstream = f"app{index}"
    return textwrap.dedent(
        f"""\
        upstream {upstream} {{
            server 127.0.0.1:{9000 + index % 1000};
            keepalive 16;
        }}
        map $http_upgrade $connection_upgrade_{index} {{
            default upgrade;
            ''      close;
        }}
        server {{
            listen {listen}{options};
            server_name site{index}.example.com;
            client_max_body_size 10m;
            location / {{
                proxy_pass http://{upstream};
                proxy_set_header Host $host;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade_{index};
            }}
            location /static/ {{
                root /usr/share/nginx/html;
                expires 7d;
            }}
        }}
        """
    )


def main_conf(rng: random.Random, stream: bool) -> str:
    stream_block = ""
    if stream:
        stream_block = "stream {\n    server {\n        listen 5432 backlog=%d;\n        proxy_pass 10.0.0.5:5432;\n    }\n}\n" % rng.choice([256, 1024, 9000])
    return textwrap.dedent(
        """\
        user  nginx;
        worker_processes  auto;
        events {
            worker_connections  1024;
        }
        http {
            include       mime.types;
            default_type  application/octet-stream;
            sendfile        on;
            keepalive_timeout  65;
            include conf.d/*.conf;
        }
        """
    ) + stream_block


def workload(rng: random.Random, index: int, namespace: str) -> str:
    kind = rng.choice(["Deployment", "Deployment", "StatefulSet"])
    name = f"web-{index}"
    sysctls = ""
    if rng.random() < 0.5:
        sysctls = (
            "      securityContext:\n        sysctls:\n        - name: net.core.somaxconn\n"
            f'          value: "{rng.choice([1024, 4096, 8192, 32768])}"\n'
        )
    init = ""
    if rng.random() < 0.3:
        init = (
            "      initContainers:\n      - name: tune\n        image: busybox:1.36\n"
            f'        command: ["sh", "-c", "sysctl -w net.core.somaxconn={rng.choice([4096, 16384])}"]\n'
            "        securityContext:\n          privileged: true\n"
        )
    if rng.random() < 0.5:
        mount = "        - name: conf\n          mountPath: /etc/nginx/nginx.conf\n          subPath: nginx.conf\n"
        key = "nginx.conf"
        conf = "events {}\nhttp {\n" + textwrap.indent(nginx_server(rng, index), "    ") + "}\n"
    else:
        mount = "        - name: conf\n          mountPath: /etc/nginx/conf.d\n"
        key = "site.conf"
        conf = nginx_server(rng, index)
    service_name = f"{name}-svc"
    extra = "  serviceName: %s\n" % service_name if kind == "StatefulSet" else ""
    return (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"  labels:\n    app.kubernetes.io/name: {name}\n    app.kubernetes.io/part-of: shop\nspec:\n{extra}  replicas: {rng.randint(1, 5)}\n"
        f"  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n"
        f"      annotations:\n        prometheus.io/scrape: \"true\"\n    spec:\n{sysctls}{init}"
        f"      containers:\n      - name: nginx\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n"
        f"        resources:\n          requests: {{cpu: 100m, memory: 64Mi}}\n          limits: {{memory: 256Mi}}\n"
        f"        readinessProbe:\n          httpGet: {{path: /healthz, port: 80}}\n        volumeMounts:\n{mount}"
        f"      volumes:\n      - name: conf\n        configMap:\n          name: {name}-conf\n"
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-conf\n  namespace: {namespace}\ndata:\n"
        f"  {key}: |\n" + textwrap.indent(conf, "    ")
        + f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {service_name}\n  namespace: {namespace}\nspec:\n"
        f"  selector:\n    app: {name}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 80\n"
    )


def generate(out: str, seed: int, scale: int) -> dict:
    rng = random.Random(seed)
    manifests = os.path.join(out, "manifests")
    nginx = os.path.join(out, "nginx")
    documents = yaml_files = nginx_files = 0
    # 10,000 documents: 3 per workload (workload, ConfigMap, Service),
    # plus a Namespace per 100 workloads, in ~2,000 files.
    workloads = 3300 * scale
    index = 0
    file_index = 0
    while index < workloads:
        namespace = f"team-{index // 100}"
        path = os.path.join(manifests, namespace, f"app-{file_index:05d}.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        parts = []
        helm = rng.random() < 0.3
        for _ in range(rng.choice([1, 2])):
            if index >= workloads:
                break
            doc = workload(rng, index, namespace)
            if helm:
                doc = f"# Source: shop/templates/app-{index}.yaml\n" + doc
            parts.append(doc)
            documents += 3
            index += 1
        if index % 100 == 1:
            parts.append(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
            documents += 1
        with open(path, "w") as handle:
            handle.write("---\n" + "---\n".join(parts))
        yaml_files += 1
        file_index += 1
    # 1,000 standalone nginx files: 100 sites of a main config + 9 servers.
    for site in range(100 * scale):
        base = os.path.join(nginx, f"site-{site:04d}")
        os.makedirs(os.path.join(base, "conf.d"), exist_ok=True)
        with open(os.path.join(base, "nginx.conf"), "w") as handle:
            handle.write(main_conf(rng, stream=rng.random() < 0.2))
        nginx_files += 1
        for server in range(9):
            with open(os.path.join(base, "conf.d", f"server-{server}.conf"), "w") as handle:
                handle.write(nginx_server(rng, site * 10 + server))
            nginx_files += 1
    return {"documents": documents, "yaml_files": yaml_files, "nginx_files": nginx_files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out", "corpus"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    counts = generate(args.out, args.seed, args.scale)
    print(f"{counts['yaml_files']} YAML files, {counts['documents']} documents, {counts['nginx_files']} nginx files in {args.out}")


if __name__ == "__main__":
    main()
