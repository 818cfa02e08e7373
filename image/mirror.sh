# shellcheck shell=bash
# Which Debian mirror the root filesystem is built from (issue 16): sourced by rootfs.sh, not run.
#
#   debian_mirrors [SOURCES FILE...]   # prints "MAIN-ARCHIVE-URI SECURITY-URI"
#
# In this order:
#   1. DEBIAN_MIRROR (the main archive, as http://HOST/debian or a proxy's path to it), with
#      DEBIAN_SECURITY_MIRROR, or else DEBIAN_MIRROR with "-security" after it (the usual layout,
#      http://HOST/debian-security);
#   2. the build machine's own apt sources: the first `deb` entry whose URI ends in /debian
#      (not a -security suite) for the main archive, and the first -security suite for security,
#      from one-line .list files and deb822 .sources files (entries with "Enabled: no" skipped);
#   3. Debian's redirector, the last resort.
# The files read are the arguments, or else /etc/apt/sources.list, sources.list.d/*.list and
# sources.list.d/*.sources. The mirror only decides where packages come from, not which: the
# cache key in build.sh leaves this file out.

# apt_entries FILE...: one "URI SUITE" line per suite of each enabled `deb` entry.
apt_entries() {
  local file
  for file in "$@"; do
    [ -r "$file" ] || continue
    case "$file" in
      *.sources)
        # deb822: paragraphs of "Field: value" lines, separated by blank lines; "#" comments.
        awk '
          function flush() {
            if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/)
              for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uris[u], suites[s]
            types = ""; enabled = ""; nu = 0; ns = 0
          }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          {
            field = tolower($1); sub(/:$/, "", field); $1 = ""; sub(/^[ \t]+/, "")
            if (field == "types") types = $0
            else if (field == "enabled") enabled = tolower($0)
            else if (field == "uris") nu = split($0, uris, /[ \t]+/)
            else if (field == "suites") ns = split($0, suites, /[ \t]+/)
          }
          END { flush() }' "$file" ;;
      *)
        # One-line: deb [options] URI SUITE COMPONENT...
        sed -n 's/^[ \t]*deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]\+\)[ \t]\+\([^ \t]\+\).*/\2 \3/p' "$file" ;;
    esac
  done
}

debian_mirrors() {
  local main="" security="" uri suite
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    main=${DEBIAN_MIRROR%/}
    security=${DEBIAN_SECURITY_MIRROR:-$main-security}
  else
    local files=("$@")
    if [ "${#files[@]}" -eq 0 ]; then
      shopt -s nullglob
      files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
      shopt -u nullglob
    fi
    while read -r uri suite; do
      uri=${uri%/}
      case "$suite" in
        *-security) [ -n "$security" ] || security=$uri ;;
        *) case "$uri" in */debian) [ -n "$main" ] || main=$uri ;; esac ;;
      esac
    done < <(apt_entries "${files[@]}")
    [ -n "$main" ] || main=http://deb.debian.org/debian
    [ -n "$security" ] || security=${DEBIAN_SECURITY_MIRROR:-$main-security}
  fi
  echo "$main $security"
}
