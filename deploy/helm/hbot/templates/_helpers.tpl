{{/*
Helpers for the hbot chart. Every name is prefixed "hbot.".
*/}}

{{/* Chart name, or nameOverride. */}}
{{- define "hbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name "<release>-hbot" (or fullnameOverride), at most 63 characters. */}}
{{- define "hbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "name-version" for the helm.sh/chart label. */}}
{{- define "hbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "hbot.labels" -}}
helm.sh/chart: {{ include "hbot.chart" . }}
{{ include "hbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hbot
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels (stable across upgrades). */}}
{{- define "hbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The worker roles, exactly the CLI's hbot.roles.ROLES (tests/deploy checks they match).
Everything per role derives from this list: values key = camelCase, k8s name = dashes.
*/}}
{{- define "hbot.roles" -}}
market_data strategy risk execution kill_switch signals reconciliation sink
{{- end -}}

{{/* Values key of a role: "market_data" -> "marketData". Call with the role name. */}}
{{- define "hbot.roleKey" -}}
{{- . | camelcase | untitle -}}
{{- end -}}

{{/* Kubernetes name part of a role: "market_data" -> "market-data". Call with the role name. */}}
{{- define "hbot.roleDns" -}}
{{- . | replace "_" "-" -}}
{{- end -}}

{{/* Resource name of a role: "<fullname>-<role-dns>". Call with (dict "root" $ "role" $role). */}}
{{- define "hbot.roleFullname" -}}
{{- printf "%s-%s" (include "hbot.fullname" .root) (include "hbot.roleDns" .role) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The one exchange key a role may see (rule 7, keys split by role): the exchangeKeys entry name,
or "" for roles that need none.
*/}}
{{- define "hbot.roleExchangeKey" -}}
{{- $keys := dict "market_data" "data" "reconciliation" "data" "execution" "trade" "kill_switch" "killSwitch" -}}
{{- get $keys . -}}
{{- end -}}

{{/* Environment variable carrying a key's path: data -> HBOT_DATA_KEY_FILE. */}}
{{- define "hbot.exchangeKeyEnv" -}}
{{- printf "HBOT_%s_KEY_FILE" (. | snakecase | upper) -}}
{{- end -}}

{{/* Image reference "registry/repository:tag" or "...@digest". */}}
{{- define "hbot.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* Name of the shared ServiceAccount. */}}
{{- define "hbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount of a role: its own when create/name is set, else the shared one. Call with (dict "root" $ "role" $role). */}}
{{- define "hbot.roleServiceAccountName" -}}
{{- $sa := (index .root.Values (include "hbot.roleKey" .role)).serviceAccount | default dict -}}
{{- if $sa.create -}}
{{- default (include "hbot.roleFullname" .) $sa.name -}}
{{- else if $sa.name -}}
{{- $sa.name -}}
{{- else -}}
{{- include "hbot.serviceAccountName" .root -}}
{{- end -}}
{{- end -}}

{{/* Ids of the instances whose execution is live, comma-separated ("" if none). */}}
{{- define "hbot.liveInstances" -}}
{{- $ids := list -}}
{{- range .Values.instances -}}
{{- if eq (.execution | default "paper") "live" -}}
{{- $ids = append $ids .id -}}
{{- end -}}
{{- end -}}
{{- join ", " $ids -}}
{{- end -}}

{{/* Ids of the instances on the synthetic exchange, comma-separated. */}}
{{- define "hbot.syntheticInstances" -}}
{{- $ids := list -}}
{{- range .Values.instances -}}
{{- if eq .exchange "synthetic" -}}
{{- $ids = append $ids .id -}}
{{- end -}}
{{- end -}}
{{- join ", " $ids -}}
{{- end -}}

{{/*
HBOT_MARKET_SOURCE of the market-data role. "auto": synthetic when every instance is on the
synthetic exchange (or there is none), live when none is; a mix is refused by hbot.validateValues.
*/}}
{{- define "hbot.marketSource" -}}
{{- $source := .Values.marketSource | default "auto" -}}
{{- if eq $source "auto" -}}
{{- $all := len (.Values.instances | default list) -}}
{{- $synthetic := 0 -}}
{{- range .Values.instances -}}{{- if eq .exchange "synthetic" -}}{{- $synthetic = add1 $synthetic -}}{{- end -}}{{- end -}}
{{- if eq $synthetic $all -}}synthetic{{- else if eq $synthetic 0 -}}live{{- else -}}mixed{{- end -}}
{{- else -}}
{{- $source -}}
{{- end -}}
{{- end -}}

{{/* The instances YAML as mounted into the workers (the same document the CLI's load_instances reads). */}}
{{- define "hbot.instancesYaml" -}}
{{- toYaml (dict "instances" (.Values.instances | default list)) -}}
{{- end -}}

{{/*
Environment shared by every role: HBOT_* settings, Kafka security, ClickHouse, OTLP.
Call with the root context.
*/}}
{{- define "hbot.commonEnv" -}}
- name: HBOT_HOME
  value: {{ .Values.home | quote }}
- name: HBOT_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: HBOT_WEB_PORT
  value: {{ .Values.webPort | quote }}
- name: HBOT_INSTANCES_FILE
  value: /etc/hbot/instances/instances.yaml
- name: HBOT_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: HBOT_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if .Values.kafka.sasl.mechanism }}
- name: HBOT_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: HBOT_KAFKA_SASL_USERNAME
  value: {{ .Values.kafka.sasl.username | quote }}
- name: HBOT_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret | quote }}
      key: {{ .Values.kafka.sasl.existingSecretPasswordKey | quote }}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: HBOT_KAFKA_SSL_CA_FILE
  value: {{ printf "/etc/hbot/kafka-ca/%s" .Values.kafka.tls.caSecretKey | quote }}
{{- end }}
{{- if .Values.schemaRegistry.url }}
- name: HBOT_SCHEMA_REGISTRY_URL
  value: {{ .Values.schemaRegistry.url | quote }}
{{- end }}
{{- include "hbot.clickhouseEnv" . }}
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
{{- if .Values.metrics.prometheus.enabled }}
- name: OTEL_METRICS_EXPORTER
  value: prometheus
- name: OTEL_EXPORTER_PROMETHEUS_HOST
  value: "0.0.0.0"
- name: OTEL_EXPORTER_PROMETHEUS_PORT
  value: {{ .Values.metrics.prometheus.port | quote }}
{{- end }}
{{- end -}}

{{/* HBOT_CLICKHOUSE_DSN from the Secret or the clear-text value (nothing = embedded chDB). */}}
{{- define "hbot.clickhouseEnv" -}}
{{- if .Values.clickhouse.existingSecret }}
- name: HBOT_CLICKHOUSE_DSN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.clickhouse.existingSecret | quote }}
      key: {{ .Values.clickhouse.existingSecretKey | quote }}
{{- else if .Values.clickhouse.dsn }}
- name: HBOT_CLICKHOUSE_DSN
  value: {{ .Values.clickhouse.dsn | quote }}
{{- end }}
{{- end -}}

{{/* The probe block of a role: httpGet on the Faust web port. Call with (dict "probe" $p "path" "/"). */}}
{{- define "hbot.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- end -}}

{{/*
Checks that span several values; fails the render with a message naming the keys and the fix.
(Types, enums, minimums and required keys are checked earlier by values.schema.json.)
*/}}
{{- define "hbot.validateValues" -}}
{{- $messages := list -}}
{{- $live := include "hbot.liveInstances" . -}}
{{- if $live -}}
  {{- if not .Values.execution.enabled -}}
    {{- $messages = append $messages (printf "instances [%s] trade live but execution.enabled is false: enable the execution role or set execution: paper" $live) -}}
  {{- end -}}
  {{- if not .Values.exchangeKeys.trade.existingSecret -}}
    {{- $messages = append $messages (printf "instances [%s] trade live but exchangeKeys.trade.existingSecret is empty: create a Secret with the trade key (apiKey, secret[, password]) and set its name there" $live) -}}
  {{- end -}}
  {{- if not .Values.killSwitch.enabled -}}
    {{- $messages = append $messages (printf "instances [%s] trade live but killSwitch.enabled is false: live trading needs the kill switch; enable it" $live) -}}
  {{- else if lt (int .Values.killSwitch.replicaCount) 1 -}}
    {{- $messages = append $messages (printf "instances [%s] trade live but killSwitch.replicaCount is 0: set it to 1" $live) -}}
  {{- end -}}
  {{- if not .Values.exchangeKeys.killSwitch.existingSecret -}}
    {{- $messages = append $messages (printf "instances [%s] trade live but exchangeKeys.killSwitch.existingSecret is empty: the kill switch needs its own key; create a Secret and set its name there" $live) -}}
  {{- end -}}
{{- end -}}
{{- $trade := .Values.exchangeKeys.trade.existingSecret -}}
{{- $kill := .Values.exchangeKeys.killSwitch.existingSecret -}}
{{- if and $trade (eq $trade $kill) -}}
  {{- $messages = append $messages (printf "exchangeKeys.trade.existingSecret and exchangeKeys.killSwitch.existingSecret are both %q: the kill switch must use its own key (a separate Secret) so it can cancel when the trade key is revoked or rate-limited" $trade) -}}
{{- end -}}
{{- $source := include "hbot.marketSource" . -}}
{{- $synthetic := include "hbot.syntheticInstances" . -}}
{{- if eq $source "mixed" -}}
  {{- $messages = append $messages (printf "marketSource is auto but instances [%s] are on the synthetic exchange and others are not: one market-data role publishes one kind of market; set marketSource to synthetic or live, or split the instances into two releases" $synthetic) -}}
{{- else if and (eq $source "live") $synthetic -}}
  {{- $messages = append $messages (printf "marketSource is live but instances [%s] are on the synthetic exchange, which has no live feed: give them a ccxt.pro exchange id (e.g. bitget) or set marketSource to synthetic" $synthetic) -}}
{{- end -}}
{{- $ids := dict -}}
{{- range .Values.instances -}}
  {{- if hasKey $ids .id -}}
    {{- $messages = append $messages (printf "instances: id %q appears more than once: instance ids must be unique" .id) -}}
  {{- end -}}
  {{- $_ := set $ids .id true -}}
{{- end -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol -}}
  {{- if not .Values.kafka.sasl.mechanism -}}
    {{- $messages = append $messages (printf "kafka.securityProtocol is %s but kafka.sasl.mechanism is empty: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" .Values.kafka.securityProtocol) -}}
  {{- end -}}
{{- end -}}
{{- if .Values.kafka.sasl.mechanism -}}
  {{- if not (hasPrefix "SASL_" .Values.kafka.securityProtocol) -}}
    {{- $messages = append $messages (printf "kafka.sasl.mechanism is set but kafka.securityProtocol is %s: use SASL_SSL (or SASL_PLAINTEXT)" .Values.kafka.securityProtocol) -}}
  {{- end -}}
  {{- if not .Values.kafka.sasl.existingSecret -}}
    {{- $messages = append $messages "kafka.sasl.existingSecret is empty: create a Secret with the SASL password and set its name there" -}}
  {{- end -}}
  {{- if not .Values.kafka.sasl.username -}}
    {{- $messages = append $messages "kafka.sasl.username is empty: set the SASL user name" -}}
  {{- end -}}
{{- end -}}
{{- if and .Values.clickhouse.dsn .Values.clickhouse.existingSecret -}}
  {{- $messages = append $messages "clickhouse.dsn and clickhouse.existingSecret are both set: keep one (the Secret, if the DSN has a password)" -}}
{{- end -}}
{{- if and .Values.metrics.podMonitor.enabled (not .Values.metrics.prometheus.enabled) -}}
  {{- $messages = append $messages "metrics.podMonitor.enabled needs metrics.prometheus.enabled: the workers expose no /metrics otherwise" -}}
{{- end -}}
{{- if and .Values.archive.enabled (not .Values.archive.existingClaim) -}}
  {{- $messages = append $messages "archive.enabled needs archive.existingClaim: create a PersistentVolumeClaim for the daily archives and set its name there (an emptyDir would lose them)" -}}
{{- end -}}
{{- if and .Values.migrations.enabled (not (or .Values.clickhouse.dsn .Values.clickhouse.existingSecret)) -}}
  {{- $messages = append $messages "migrations.enabled needs a ClickHouse server: set clickhouse.existingSecret (or clickhouse.dsn)" -}}
{{- end -}}
{{- if $messages -}}
{{- fail (printf "\n\nhbot: invalid values:\n  - %s\n" (join "\n  - " $messages)) -}}
{{- end -}}
{{- end -}}
