#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker + controller) run from the
# Maven Central jars listed in pom.xml: no Docker, no Kafka distribution to install. Used by the
# test harness (tests/support/kafka.py) and CI. Needs Java 17+ and, for the first fetch, Maven.
#
#   kafka.sh fetch
#       Resolve the jars once into ${PICKET_CACHE:-~/.cache/picket}/kafka-<version>/libs and
#       print that directory. Also records a class-data-sharing archive of a broker start-up
#       (one throwaway broker run), which makes every later start roughly twice as fast.
#   kafka.sh start DATA_DIR PORT CONTROLLER_PORT [key=value ...]
#       Write DATA_DIR/server.properties (extra key=value pairs override the defaults), format
#       the storage on first use, and run the broker in the foreground (exec) on
#       127.0.0.1:PORT. Restarting on the same DATA_DIR keeps the data. The broker log is
#       DATA_DIR/broker.log. Everything it writes is readable by its owner only.
#
# Environment:
#   PICKET_CACHE            cache root (default ~/.cache/picket)
#   PICKET_KAFKA_LOG_LEVEL  level of DATA_DIR/broker.log (default WARN)
#   PICKET_KAFKA_JVM_OPTS   extra JVM options, appended (so -Xmx etc. override the defaults)
#   PICKET_KAFKA_CDS=0      neither record nor use the class-data-sharing archive
#   PICKET_KAFKA_SASL_SECRET_FILE
#                           a file holding a password: both listeners then require SASL/PLAIN
#                           as user "picket" with it. It never appears on a command line;
#                           server.properties, which must hold it, is the owner's alone.
#   JAVA_HOME               the JVM to use (default: java on PATH)
set -euo pipefail
umask 077   # configuration (it may hold a password), data and logs are the owner's alone

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

die() { echo "kafka.sh: $*" >&2; exit 1; }

need_java() {
  command -v "$java" >/dev/null ||
    die "$java not found: Java 17 or later is needed (or set KAFKA_BOOTSTRAP to use a running broker)"
}

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[[ -n $version ]] || die "no <kafka.version> in $pom"
pom_sum="$(sha256sum "$pom" | cut -c1-16)"
cache="${PICKET_CACHE:-$HOME/.cache/picket}/kafka-$version"
libs="$cache/libs"
marker="$libs/.fetched"   # holds the POM checksum: a changed POM re-resolves

libs_ready() { [[ -f $marker && "$(<"$marker")" == "$pom_sum" ]]; }

# Resolve into a temporary directory and rename it into place, so an interrupted or concurrent
# fetch never leaves a half-filled libs directory behind.
fetch_libs() {
  libs_ready && return 0
  command -v mvn >/dev/null ||
    die "Maven (mvn) is needed once to fetch the Kafka jars (or set KAFKA_BOOTSTRAP to use a running broker)"
  mkdir -p "$cache"
  local tmp
  tmp="$(mktemp -d "$cache/.libs.XXXXXX")"
  chmod 755 "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp/.mvn.log" 2>&1; then
    cat "$tmp/.mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve the Kafka jars (output above)"
  fi
  rm -f "$tmp/.mvn.log"
  printf '%s\n' "$pom_sum" >"$tmp/.fetched"
  if [[ -e $libs ]] && ! libs_ready; then   # stale: resolved from an older POM
    local old="$cache/.stale.$$"
    mv -T "$libs" "$old" 2>/dev/null && rm -rf "$old"
  fi
  if ! mv -T "$tmp" "$libs" 2>/dev/null; then
    rm -rf "$tmp"   # another fetch got there first
    libs_ready || die "could not move the jars into $libs"
  fi
}

classpath() {
  local LC_ALL=C   # a stable jar order: the class-data-sharing archive checks the class path
  local cp
  cp="$(printf '%s:' "$libs"/*.jar)"
  printf '%s' "${cp%:}"
}

# The archive is only valid for the exact JVM and jar files it was recorded with: it lives in the
# libs directory (a re-fetch replaces both) and its name identifies the JVM.
cds_archive() {
  local jvm
  jvm="$(readlink -f "$(command -v "$java")")"
  printf '%s/cds-%s.jsa' "$libs" \
    "$(printf '%s %s' "$jvm" "$(stat -c %Y "$jvm")" | sha256sum | cut -c1-12)"
}

cds_enabled() { [[ ${PICKET_KAFKA_CDS:-1} != 0 ]]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_open "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# JVM options for every broker and storage-tool run. SerialGC and C1-only compilation keep GC
# and JIT threads from competing with start-up; the class-data-sharing archive skips most class
# loading and verification. Measured on 2 cores (medians of 5, format + start until a Metadata
# request is answered): 2.0 s for a fresh data dir and 1.5 s for a restart, against 5.1 s and
# 3.8 s with the JVM defaults and no archive (4.6 s and 2.9 s without the archive only). C1-only
# code did not slow the broker down in produce benchmarks: the Python clients are the bottleneck.
jvm_opts() {
  local data_dir="$1"
  opts=(-Xmx512m -Xms256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$data_dir/log4j2.properties")
  local jsa
  jsa="$(cds_archive)"
  if cds_enabled && [[ -f $jsa ]]; then
    opts+=(-XX:SharedArchiveFile="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
  fi
  local extra=()
  read -r -a extra <<<"${PICKET_KAFKA_JVM_OPTS:-}"
  opts+=("${extra[@]}")
}

# With PICKET_KAFKA_SASL_SECRET_FILE: both listeners require SASL/PLAIN, user "picket".
sasl_config() {
  local file="${PICKET_KAFKA_SASL_SECRET_FILE:-}"
  [[ -n $file ]] || return 0
  [[ -r $file ]] || die "PICKET_KAFKA_SASL_SECRET_FILE=$file is not readable"
  local password jaas
  password="$(<"$file")"
  # Letters, digits, - and _ only: the value passes through two quoting layers (a properties
  # file, then JAAS), and a generated secret needs neither.
  [[ $password =~ ^[A-Za-z0-9_-]{16,}$ ]] || die "$file must hold 16 or more letters, digits, - or _"
  jaas="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"picket\" password=\"$password\" user_picket=\"$password\";"
  cat <<EOF
listener.security.protocol.map=PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.plaintext.plain.sasl.jaas.config=$jaas
listener.name.controller.plain.sasl.jaas.config=$jaas
EOF
}

write_config() {
  local data_dir="$1" port="$2" controller_port="$3"
  shift 3
  mkdir -p "$data_dir/kraft"
  {
    cat <<EOF
# Written by deploy/kafka/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data_dir/kraft
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    sasl_config
    local kv
    for kv in "$@"; do
      [[ $kv == *=* ]] || die "broker setting '$kv' is not key=value"
      printf '%s\n' "$kv"
    done
  } >"$data_dir/server.properties"
  cat >"$data_dir/log4j2.properties" <<EOF
# Written by deploy/kafka/kafka.sh on every start; edits are overwritten.
status = error
shutdownHook = disable
appender.file.type = File
appender.file.name = file
appender.file.fileName = $data_dir/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${PICKET_KAFKA_LOG_LEVEL:-WARN}
rootLogger.appenderRef.file.ref = file
EOF
}

format_storage() {
  local data_dir="$1" cp="$2"
  [[ -f $data_dir/kraft/meta.properties ]] && return 0
  local cluster_id
  # Letters and digits only: an id starting with '-' would read as an option.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' 'AB' | cut -c1-22)"
  "$java" "${opts[@]}" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$data_dir/server.properties" >&2
}

# One throwaway broker start recorded with -XX:ArchiveClassesAtExit. The JVM writes the archive
# when the broker exits after SIGTERM; it is checked, then renamed into place. Any failure here
# only means slower starts, never a failed fetch.
record_cds() {
  local jsa
  jsa="$(cds_archive)"
  [[ -f $jsa ]] && return 0
  (
    work="$(mktemp -d "$cache/.cds.XXXXXX")"
    pid=""
    trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
    port="$(free_port)" || exit 1
    controller_port="$(free_port)" || exit 1
    [[ $port != "$controller_port" ]] || exit 1
    cp="$(classpath)"
    write_config "$work" "$port" "$controller_port"
    jvm_opts "$work"
    format_storage "$work" "$cp" 2>"$work/format.out" || exit 1
    "$java" "${opts[@]}" -XX:ArchiveClassesAtExit="$work/kafka.jsa" -cp "$cp" \
      kafka.Kafka "$work/server.properties" >"$work/broker.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 1200); do
      port_open "$port" && break
      kill -0 "$pid" 2>/dev/null || exit 1
      sleep 0.1
    done
    port_open "$port" || exit 1
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
    [[ -s $work/kafka.jsa ]] || exit 1
    "$java" -Xshare:on -XX:SharedArchiveFile="$work/kafka.jsa" -cp "$cp" -version >/dev/null 2>&1 ||
      exit 1
    mv -f "$work/kafka.jsa" "$jsa"
  ) || echo "kafka.sh: could not record the class-data-sharing archive; brokers start slower" >&2
}

cmd_fetch() {
  need_java
  fetch_libs
  if cds_enabled; then record_cds; fi
  printf '%s\n' "$libs"
}

cmd_start() {
  (($# >= 3)) || die "usage: kafka.sh start DATA_DIR PORT CONTROLLER_PORT [key=value ...]"
  local data_dir port="$2" controller_port="$3"
  [[ $port =~ ^[0-9]+$ && $controller_port =~ ^[0-9]+$ ]] || die "ports must be numbers"
  mkdir -p "$1"
  data_dir="$(cd "$1" && pwd)"
  shift 3
  cmd_fetch >/dev/null
  local cp
  cp="$(classpath)"
  write_config "$data_dir" "$port" "$controller_port" "$@"
  jvm_opts "$data_dir"
  format_storage "$data_dir" "$cp"
  exec "$java" "${opts[@]}" -cp "$cp" kafka.Kafka "$data_dir/server.properties"
}

case "${1:-}" in
  fetch) shift; cmd_fetch "$@" ;;
  start) shift; cmd_start "$@" ;;
  *) die "usage: kafka.sh fetch | kafka.sh start DATA_DIR PORT CONTROLLER_PORT [key=value ...]" ;;
esac
