#!/bin/sh
# Registers the service's namespace on the stack's Temporal, over mutual TLS with the client
# certificate of the `certs` volume. Safe to run again: an existing namespace is kept.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}"

temporal_cli() {
    temporal "$@" --address "$TEMPORAL_ADDRESS" --tls-ca-path /certs/ca.pem \
        --tls-cert-path /certs/client.pem --tls-key-path /certs/client.key \
        --tls-server-name temporal
}

tries=0
until temporal_cli operator cluster health | grep -q SERVING; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "Temporal at $TEMPORAL_ADDRESS is not serving after 60 tries" >&2
        exit 1
    fi
    sleep 2
done

if temporal_cli operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
    echo "namespace $NAMESPACE exists"
else
    # Closed workflows' histories are kept a week; the claim record lives in Postgres.
    temporal_cli operator namespace create --namespace "$NAMESPACE" --retention 168h
    echo "namespace $NAMESPACE created"
fi
