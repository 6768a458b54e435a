"""Which nginx binary a container runs: its version and the modules built
into it, as far as the image says -- what decides whether nginx knows a
directive (SMX024).

* The official images (`nginx`, `nginxinc/nginx-unprivileged`, from Docker
  Hub or the registries F5 publishes them on) are nginx.org's packages:
  their configure arguments are known (docker-nginx installs the
  nginx.org package; `nginx -V` of nginx:1.22.1 and later), so is every
  module in them.  They also ship dynamic modules (geoip, image-filter,
  njs, xslt; perl in the `-perl` variants, otel in `-otel`; none in
  `-alpine-slim`) under /etc/nginx/modules, which nginx knows only once
  `load_module` loads them (docker-nginx's Dockerfile-debian.template and
  Dockerfile-alpine.template install nginx-module-xslt, -geoip,
  -image-filter and -njs; mainline/debian/Dockerfile at b430bec).
* OpenResty (`openresty/openresty`) is nginx with lua-nginx-module,
  stream-lua-nginx-module and ngx_devel_kit built in, and a bundle of other
  modules somaxlint does not list one by one; its nginx version is the
  first three parts of the OpenResty version.
* Any other image (a company's build, a registry mirror somaxlint cannot
  tell from a custom build, Bitnami's, NGINX Plus) and a standalone file
  whose workload is not known: nginx's default modules, and possibly any
  other module.

A build is ``exact`` when no module beyond the ones listed can be in it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, Optional, Tuple

from somaxlint.records import record, field

# ---------------------------------------------------------------------------
# module groups (names as nginx's sources declare them: ngx_module_t ...)
# ---------------------------------------------------------------------------

CORE = frozenset({
    "ngx_conf_module", "ngx_core_module", "ngx_errlog_module", "ngx_events_module",
    "ngx_event_core_module", "ngx_epoll_module", "ngx_regex_module",
})
SSL_CORE = frozenset({"ngx_openssl_module", "ngx_openssl_cache_module"})
THREADS = frozenset({"ngx_thread_pool_module"})
# built unless configure says --without-... (auto/options: HTTP_*=YES)
HTTP_DEFAULT = frozenset({
    "ngx_http_module", "ngx_http_core_module", "ngx_http_log_module", "ngx_http_upstream_module",
    "ngx_http_copy_filter_module", "ngx_http_charset_filter_module", "ngx_http_gzip_filter_module",
    "ngx_http_ssi_filter_module", "ngx_http_userid_filter_module", "ngx_http_access_module",
    "ngx_http_auth_basic_module", "ngx_http_mirror_module", "ngx_http_autoindex_module",
    "ngx_http_geo_module", "ngx_http_map_module", "ngx_http_split_clients_module",
    "ngx_http_referer_module", "ngx_http_rewrite_module", "ngx_http_proxy_module",
    "ngx_http_fastcgi_module", "ngx_http_uwsgi_module", "ngx_http_scgi_module", "ngx_http_grpc_module",
    "ngx_http_tunnel_module", "ngx_http_memcached_module", "ngx_http_limit_conn_module",
    "ngx_http_limit_req_module", "ngx_http_empty_gif_module", "ngx_http_browser_module",
    "ngx_http_upstream_hash_module", "ngx_http_upstream_ip_hash_module",
    "ngx_http_upstream_least_conn_module", "ngx_http_upstream_least_time_module",
    "ngx_http_upstream_random_module", "ngx_http_upstream_keepalive_module",
    "ngx_http_upstream_zone_module", "ngx_http_upstream_sticky_module",
    "ngx_http_headers_filter_module", "ngx_http_index_module", "ngx_http_try_files_module",
})
STREAM_DEFAULT = frozenset({
    "ngx_stream_module", "ngx_stream_core_module", "ngx_stream_log_module", "ngx_stream_proxy_module",
    "ngx_stream_upstream_module", "ngx_stream_access_module", "ngx_stream_limit_conn_module",
    "ngx_stream_geo_module", "ngx_stream_map_module", "ngx_stream_split_clients_module",
    "ngx_stream_return_module", "ngx_stream_set_module", "ngx_stream_pass_module",
    "ngx_stream_upstream_hash_module", "ngx_stream_upstream_least_conn_module",
    "ngx_stream_upstream_least_time_module", "ngx_stream_upstream_random_module",
    "ngx_stream_upstream_zone_module",
})
MAIL_DEFAULT = frozenset({
    "ngx_mail_module", "ngx_mail_core_module", "ngx_mail_pop3_module", "ngx_mail_imap_module",
    "ngx_mail_smtp_module", "ngx_mail_auth_http_module", "ngx_mail_proxy_module", "ngx_mail_realip_module",
})
LUA = frozenset({"ngx_http_lua_module", "ngx_stream_lua_module"})

# nginx.org's packages (the official images): --with-compat --with-file-aio
# --with-threads --with-http_addition_module --with-http_auth_request_module
# --with-http_dav_module --with-http_flv_module --with-http_gunzip_module
# --with-http_gzip_static_module --with-http_mp4_module
# --with-http_random_index_module --with-http_realip_module
# --with-http_secure_link_module --with-http_slice_module
# --with-http_ssl_module --with-http_stub_status_module
# --with-http_sub_module --with-http_v2_module --with-http_v3_module (from
# 1.25.0) --with-mail --with-mail_ssl_module --with-stream
# --with-stream_realip_module --with-stream_ssl_module
# --with-stream_ssl_preread_module
OFFICIAL_WITH = frozenset({
    "ngx_http_addition_filter_module", "ngx_http_auth_request_module", "ngx_http_dav_module",
    "ngx_http_flv_module", "ngx_http_gunzip_filter_module", "ngx_http_gzip_static_module",
    "ngx_http_mp4_module", "ngx_http_random_index_module", "ngx_http_realip_module",
    "ngx_http_secure_link_module", "ngx_http_slice_filter_module", "ngx_http_ssl_module",
    "ngx_http_stub_status_module", "ngx_http_sub_filter_module", "ngx_http_v2_module",
    "ngx_mail_ssl_module", "ngx_stream_realip_module", "ngx_stream_ssl_module",
    "ngx_stream_ssl_preread_module",
})
HTTP_V3 = (1, 25, 0)
# `#if` names of nginx's sources and what they are on Linux builds with
# PCRE, OpenSSL and the default modules (unlisted names: not known)
LINUX_MACROS = {
    "NGX_HAVE_OPENAT": True, "NGX_HTTP_CACHE": True, "NGX_HTTP_GZIP": True, "NGX_PCRE": True,
    "NGX_HTTP_UPSTREAM_ZONE": True, "NGX_STREAM_UPSTREAM_ZONE": True,
}

# dynamic module files of the official images (modules/<file>), and the
# modules each holds
OFFICIAL_SHIPPED = {
    "ngx_http_geoip_module.so": ("ngx_http_geoip_module",),
    "ngx_stream_geoip_module.so": ("ngx_stream_geoip_module",),
    "ngx_http_image_filter_module.so": ("ngx_http_image_filter_module",),
    "ngx_http_js_module.so": ("ngx_http_js_module", "ngx_http_js_core_module"),
    "ngx_stream_js_module.so": ("ngx_stream_js_module", "ngx_stream_js_core_module"),
    "ngx_http_xslt_filter_module.so": ("ngx_http_xslt_filter_module",),
}
PERL_SHIPPED = {"ngx_http_perl_module.so": ("ngx_http_perl_module",)}

# Modules whose directives a stock nginx does not have, named in findings
# (the directive is then said to need them).
MODULE_TITLES = {
    "ngx_http_lua_module": "the Lua module (lua-nginx-module: OpenResty, ingress-nginx)",
    "ngx_stream_lua_module": "the stream Lua module (stream-lua-nginx-module: OpenResty)",
    "ngx_http_js_module": "njs (ngx_http_js_module)",
    "ngx_http_js_core_module": "njs (ngx_http_js_module)",
    "ngx_stream_js_module": "njs (ngx_stream_js_module)",
    "ngx_stream_js_core_module": "njs (ngx_stream_js_module)",
    "ngx_http_perl_module": "the perl module (ngx_http_perl_module)",
    "ngx_http_xslt_filter_module": "the XSLT module (ngx_http_xslt_filter_module)",
    "ngx_http_image_filter_module": "the image filter module (ngx_http_image_filter_module)",
    "ngx_http_geoip_module": "the GeoIP module (ngx_http_geoip_module)",
    "ngx_stream_geoip_module": "the stream GeoIP module (ngx_stream_geoip_module)",
    "plus": "NGINX Plus",
}


@record
class Build:
    """What one nginx binary knows."""

    label: str  # "the official image nginx:1.22.1", for messages
    version: Optional[Tuple[int, int, int]]
    version_source: str  # how the version is known, or why not
    exact: bool  # no module beyond ``static`` (and what load_module loads) is in it
    static: FrozenSet[str]  # modules built in
    # dynamic modules the image ships: file name -> the modules in it
    shipped: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    macros: Dict[str, bool] = field(default_factory=dict)
    plus: bool = False  # NGINX Plus possible (its directives; upstreams without servers)
    image: str = ""

    def with_loaded(self, loaded: FrozenSet[str], unknown_load: bool) -> "Build":
        """The build once `load_module` has loaded ``loaded`` (a module file
        the image does not ship, ``unknown_load``: then nothing is exact)."""
        from somaxlint.records import replace

        return replace(self, static=self.static | loaded, exact=self.exact and not unknown_load)


def _official_repository(image: str) -> Optional[str]:
    """"nginx" or "nginx-unprivileged" when ``image`` names an official
    image as published (Docker Hub, F5's registries), else None."""
    from somaxlint.servers import image_reference

    registry, path, _tag = image_reference(image)
    if registry in ("", "docker.io", "index.docker.io", "registry-1.docker.io"):
        if path in ("nginx", "library/nginx"):
            return "nginx"
        if path == "nginxinc/nginx-unprivileged":
            return "nginx-unprivileged"
    if registry == "public.ecr.aws" and path in ("nginx/nginx", "nginx/nginx-unprivileged"):
        return path.split("/", 1)[1]
    if registry == "ghcr.io" and path in ("nginxinc/nginx-unprivileged", "nginx/nginx-unprivileged"):
        return "nginx-unprivileged"
    return None


def build_of(container, version, version_source: str) -> Build:
    """The build ``container`` runs (None: a standalone file, no image)."""
    from somaxlint.servers import image_reference, image_repository

    macros = dict(LINUX_MACROS)
    if container is None:
        return Build(
            "the nginx that loads this file (its image is not known: link the file to its workload with `servers:` "
            "in the configuration)",
            version, version_source, False, CORE | HTTP_DEFAULT, macros=macros, plus=True,
        )
    image = container.image or ""
    official = _official_repository(image)
    if official is not None:
        tag = image_reference(image)[2]
        static = CORE | SSL_CORE | THREADS | HTTP_DEFAULT | OFFICIAL_WITH | STREAM_DEFAULT | MAIL_DEFAULT
        if version is None or version >= HTTP_V3:
            static = static | {"ngx_http_v3_module"}
        shipped = {} if "slim" in tag else dict(OFFICIAL_SHIPPED)
        if "perl" in tag:
            shipped.update(PERL_SHIPPED)
        macros.update({"NGX_HTTP_SSL": True, "NGX_SSL": True, "NGX_STREAM_SSL": True})
        exact = "otel" not in tag  # (the otel module's directives are not in somaxlint's table)
        return Build(f"the official image {image}", version, version_source, exact, frozenset(static), shipped, macros, image=image)
    repository = image_repository(image)
    if repository == "openresty" and image.split("@", 1)[0].rsplit(":", 1)[0].endswith("openresty/openresty"):
        macros.update({"NDK": True})
        return Build(
            f"OpenResty ({image}): nginx with the Lua modules and OpenResty's bundle", version, version_source, False,
            CORE | HTTP_DEFAULT | LUA, macros=macros, image=image,
        )
    return Build(
        f"the nginx of image {image} (a build somaxlint does not know module by module)",
        version, version_source, False, CORE | HTTP_DEFAULT, macros=macros, plus=True, image=image,
    )
