#!/usr/bin/env bash
# The compose broker's start (docker-compose.yml mounts it as the kafka service's entrypoint), secured
# like the local stack's (tools/devstack/src/epd_devstack/kafka.py): the apache/kafka image's own start
# formats the storage without credentials, and a broker whose every listener is SASL needs its admin in
# the metadata before it starts. So:
# 1. the KAFKA_* variables become server.properties as the image maps them (KAFKA_A_B -> a.b, "__" -> "_",
#    "___" -> "-"), plus the two login lines that carry passwords (BROKER_ADMIN_PASSWORD: the SCRAM
#    super user epd-admin, inter-broker; BROKER_CONTROLLER_PASSWORD: epd-controller, PLAIN on the
#    controller listener, where KRaft cannot use SCRAM);
# 2. the storage is formatted once, with epd-admin's SCRAM-SHA-512 credential (--add-scram);
#    --ignore-formatted leaves a formatted volume as it is;
# 3. a client config for the healthcheck (as epd-admin), then the broker.
set -euo pipefail
: "${CLUSTER_ID:?}" "${BROKER_ADMIN_PASSWORD:?}" "${BROKER_CONTROLLER_PASSWORD:?}"
config=/opt/kafka/config/epd-server.properties
{
  for name in $(compgen -e | grep '^KAFKA_' | sort); do
    case "$name" in
      KAFKA_VERSION | KAFKA_HOME | KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | \
        KAFKA_LOG4J_OPTS | KAFKA_JMX_OPTS) continue ;;
    esac
    key="${name#KAFKA_}"
    key="${key,,}"
    key="${key//_/.}"
    key="${key//.../-}"
    key="${key//../_}"
    printf '%s=%s\n' "$key" "${!name}"
  done
  printf '%s\n' \
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"epd-admin\" password=\"${BROKER_ADMIN_PASSWORD}\";" \
    "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"epd-controller\" password=\"${BROKER_CONTROLLER_PASSWORD}\" user_epd-controller=\"${BROKER_CONTROLLER_PASSWORD}\";"
} >"$config"
chmod 600 "$config"

/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$config" \
  --add-scram "SCRAM-SHA-512=[name=epd-admin,password=${BROKER_ADMIN_PASSWORD}]"

umask 077
cat >/opt/kafka/config/epd-admin-client.properties <<PROPERTIES
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="epd-admin" password="${BROKER_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${KAFKA_SSL_TRUSTSTORE_LOCATION}
PROPERTIES

exec /opt/kafka/bin/kafka-server-start.sh "$config"
