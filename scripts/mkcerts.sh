#!/usr/bin/env bash
# Makes the certificates the command partition's network gateway (ultra-cmdgw) and its clients
# (ultra-ops, ultra) use: a cluster CA, a certificate per host's gateway, one per client. Keys
# are EC P-256, written 0600; nothing is overwritten. See docs/cmdnet.md.
#
#   scripts/mkcerts.sh DIR ca [CN]                  DIR/ca.pem, DIR/ca.key (CN default "ultravisor cluster CA")
#   scripts/mkcerts.sh DIR host NAME ADDR...        DIR/NAME.pem, NAME.key: a gateway's; ADDR an
#                                                   IP address or DNS name clients dial (tls://ADDR:PORT)
#   scripts/mkcerts.sh DIR client NAME              DIR/NAME.pem, NAME.key: subject CN NAME (the
#                                                   gateway's --allow-cn names it)
#   scripts/mkcerts.sh DIR revoke NAME              revokes DIR/NAME.pem and writes DIR/crl.pem
#   scripts/mkcerts.sh DIR crl                      DIR/crl.pem anew (empty at first): the CA's
#                                                   revocation list, valid CRL_DAYS (default 30)
#
# crl.pem is rewritten in place, which is how a running ultra-cmdgw --crl sees the change.
# DAYS (environment, default 825) sets the validity. The CA key signs every certificate: keep
# it off the hosts; a host needs ca.pem and its own pair only.
set -euo pipefail

die() { printf 'mkcerts: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
DIR=$1 KIND=$2
shift 2
DAYS=${DAYS:-825}
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
mkdir -p "$DIR"
umask 077

fresh() { # refuses to overwrite
    local f
    for f in "$@"; do [ ! -e "$f" ] || die "$f exists: not overwriting it"; done
}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# Signs DIR/NAME.csr with the CA and the extensions in $2 into DIR/NAME.pem.
sign() {
    local name=$1 ext=$2 extfile
    [ -s "$DIR/ca.pem" ] && [ -s "$DIR/ca.key" ] || die "no CA in $DIR: run '$0 $DIR ca' first"
    extfile=$(mktemp)
    trap 'rm -f "$extfile"' RETURN
    printf '%s\n' "$ext" > "$extfile"
    openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
        -CAcreateserial -days "$DAYS" -sha256 -extfile "$extfile" -out "$DIR/$name.pem" 2>/dev/null \
        || die "signing $name failed"
    rm -f "$DIR/$name.csr" "$DIR/ca.srl"
    chmod 0644 "$DIR/$name.pem"
}

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || die "name '$1': letters, digits, . _ - only"
    [ "$1" != ca ] || die "'ca' names the CA's own files"
}

# The CA's revocation list, from its record of revoked certificates (DIR/ca-index.txt).
gencrl() {
    local cfg
    [ -s "$DIR/ca.pem" ] && [ -s "$DIR/ca.key" ] || die "no CA in $DIR: run '$0 $DIR ca' first"
    [ -e "$DIR/ca-index.txt" ] || : > "$DIR/ca-index.txt"
    [ -s "$DIR/ca-crlnumber" ] || echo 01 > "$DIR/ca-crlnumber"
    cfg=$(mktemp)
    trap 'rm -f "$cfg"' RETURN
    printf '%s\n' "[ca]" "default_ca = cluster" "[cluster]" "database = $DIR/ca-index.txt" \
        "crlnumber = $DIR/ca-crlnumber" "certificate = $DIR/ca.pem" \
        "private_key = $DIR/ca.key" "default_md = sha256" \
        "default_crl_days = ${CRL_DAYS:-30}" > "$cfg"
    if [ -n "${1:-}" ]; then
        openssl ca -config "$cfg" -revoke "$1" 2>/dev/null || die "revoking $1 failed"
    fi
    openssl ca -config "$cfg" -gencrl -out "$DIR/crl.pem" 2>/dev/null || die "writing the CRL failed"
    chmod 0644 "$DIR/crl.pem"
}

case $KIND in
ca)
    cn=${1:-ultravisor cluster CA}
    fresh "$DIR/ca.pem" "$DIR/ca.key"
    newkey "$DIR/ca.key"
    openssl req -x509 -new -key "$DIR/ca.key" -subj "/CN=$cn" -days "$DAYS" -sha256 \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$DIR/ca.pem" 2>/dev/null \
        || die "making the CA failed"
    chmod 0644 "$DIR/ca.pem"
    echo "$DIR/ca.pem"
    ;;
host)
    [ $# -ge 2 ] || die "host NAME ADDR...: at least one address clients dial"
    name=$1
    shift
    check_name "$name"
    fresh "$DIR/$name.pem" "$DIR/$name.key"
    san=""
    for a in "$@"; do
        if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then san+="${san:+,}IP:$a"; else san+="${san:+,}DNS:$a"; fi
    done
    newkey "$DIR/$name.key"
    openssl req -new -key "$DIR/$name.key" -subj "/CN=$name" -out "$DIR/$name.csr" 2>/dev/null
    sign "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san"
    echo "$DIR/$name.pem"
    ;;
client)
    [ $# -eq 1 ] || die "client NAME"
    name=$1
    check_name "$name"
    fresh "$DIR/$name.pem" "$DIR/$name.key"
    newkey "$DIR/$name.key"
    openssl req -new -key "$DIR/$name.key" -subj "/CN=$name" -out "$DIR/$name.csr" 2>/dev/null
    sign "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
    echo "$DIR/$name.pem"
    ;;
revoke)
    [ $# -eq 1 ] || die "revoke NAME"
    check_name "$1"
    [ -s "$DIR/$1.pem" ] || die "$DIR/$1.pem: no such certificate"
    gencrl "$DIR/$1.pem"
    echo "$DIR/crl.pem"
    ;;
crl)
    [ $# -eq 0 ] || die "crl takes no arguments"
    gencrl
    echo "$DIR/crl.pem"
    ;;
*)
    usage
    ;;
esac
