# Shared by s3-restore.sh, scale.sh and fleet-s3.sh (sourced, not run): free loopback ports, waiting for a
# port, and SeaweedFS (`weed mini` from .tools/seaweedfs, installed by .ci/setup) on loopback ports
# of its own. Needs python3.

# free_ports N: N free loopback TCP ports (asked of the kernel, then released).
free_ports() {
  python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

# wait_port PORT SECONDS: until something listens on PORT.
wait_port() {
  local deadline=$((SECONDS + $2))
  until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$1" 2>/dev/null; do
    [ $SECONDS -lt "$deadline" ] || { echo "error: nothing listens on 127.0.0.1:$1 after $2 s" >&2; return 1; }
    sleep 0.2
  done
}

# start_seaweed WEED DIR BUCKET: starts `weed mini` with its data and log (DIR/weed.log) in DIR
# and the bucket BUCKET, waits for its S3 and filer ports, and sets `s3`, `filer` (the ports) and
# `weed_pid` (the subshell to kill). Exits with the log's tail if it does not come up.
start_seaweed() {
  local weed=$1 dir=$2 bucket=$3 s3g master masterg vol volg filerg admin adming
  read -r s3 s3g master masterg vol volg filer filerg admin adming <<< "$(free_ports 10)"
  mkdir -p "$dir/weed"
  (cd "$dir/weed" && TMPDIR="$dir/weed" exec "$weed" mini -dir="$dir/weed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$s3" -s3.port.grpc="$s3g" -master.port="$master" -master.port.grpc="$masterg" -volume.port="$vol" \
    -volume.port.grpc="$volg" -filer.port="$filer" -filer.port.grpc="$filerg" -admin.port="$admin" \
    -admin.port.grpc="$adming" -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -bucket="$bucket" \
    > "$dir/weed.log" 2>&1) &
  weed_pid=$!
  wait_port "$s3" 90 && wait_port "$filer" 30 || { tail -20 "$dir/weed.log" >&2; exit 1; }
}

# bench_s3_env: the same credentials for SeaweedFS's admin identity and both tools, and no other
# AWS_ settings or proxies (AWS_CA_BUNDLE, for one, breaks Litestream 0.5.17's plain-HTTP client).
bench_s3_env() {
  local v
  for v in $(env | sed -n 's/^\(AWS_[A-Za-z_]*\)=.*/\1/p; s/^\([a-z_]*_proxy\)=.*/\1/Ip'); do unset "$v"; done
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
  export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
}

# upload_replica FILER_PORT BUCKET REPLICA PREFIX: puts every file of the file replica REPLICA
# into BUCKET under PREFIX through SeaweedFS's filer, object by object, with the keys Litestream
# itself writes to S3 (0.3: the file layout; 0.5: ltx/<level>/F becomes <level as %04x>/F), so
# `litestream restore` reads the bucket as its own. Waits for the filer to answer first.
upload_replica() {
  python3 - "$@" <<'EOF'
import http.client, os, sys, time, urllib.parse
port, bucket, replica, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for attempt in range(60):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/buckets/%s/?limit=1" % bucket, headers={"Accept": "application/json"}); r = c.getresponse(); r.read()
        if r.status < 500: break
    except OSError:
        pass
    time.sleep(0.5)
for d, _, files in os.walk(replica, followlinks=True):
    for name in sorted(files):
        path = os.path.join(d, name)
        rel = os.path.relpath(path, replica).split("/")
        if rel[0] == "ltx":  # 0.5 keys on S3: <level as %04x>/<min>-<max>.ltx, not ltx/<level>/
            rel = ["%04x" % int(rel[1])] + rel[2:]
        key = prefix + "/" + "/".join(rel)
        with open(path, "rb") as f:
            c.request("PUT", "/buckets/%s/%s" % (bucket, urllib.parse.quote(key)), body=f, headers={"Content-Length": str(os.path.getsize(path))})
        r = c.getresponse(); r.read()
        if r.status >= 300: sys.exit("PUT %s: HTTP %d" % (key, r.status))
EOF
}
