{{/* Base name of every object; the client Service gets exactly this name. */}}
{{- define "tollgate.fullname" -}}
{{- default "tollgate" .Values.fullnameOverride -}}
{{- end -}}

{{- define "tollgate.operatorName" -}}{{ include "tollgate.fullname" . }}-operator{{- end -}}
{{- define "tollgate.dataplaneName" -}}{{ include "tollgate.fullname" . }}-dataplane{{- end -}}
{{- define "tollgate.adminTokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "tollgate.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{- define "tollgate.metricsTokenSecretName" -}}
{{- default (printf "%s-metrics-token" (include "tollgate.fullname" .)) .Values.metricsToken.existingSecret -}}
{{- end -}}

{{- define "tollgate.apiKeyHashSecretName" -}}
{{- default (printf "%s-api-key-hash" (include "tollgate.fullname" .)) .Values.apiKeyHash.existingSecret -}}
{{- end -}}

{{/*
The operator's leader-election Lease: one per release (`<fullname>-operator`). Charts up to 0.1.0
called it `tollgate-operator` whatever the name, so two releases in one namespace shared it. For the
default name that is still the name, so nothing changes on its upgrade. Any other name also gets the
old one as a legacy Lease (flag --legacy-lease-name, tollgate.legacyLeaseName): the operator co-holds
it while leading, so that the old chart's replicas, still running during the rollout, never lead
beside a new one (operator/kube/leader-election.ts).
*/}}
{{- define "tollgate.leaseName" -}}{{ include "tollgate.operatorName" . }}{{- end -}}
{{- define "tollgate.legacyLeaseName" -}}
{{- if ne (include "tollgate.leaseName" .) "tollgate-operator" -}}tollgate-operator{{- end -}}
{{- end -}}

{{- define "tollgate.operatorServiceAccountName" -}}
{{- default (include "tollgate.operatorName" .) .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- define "tollgate.dataplaneServiceAccountName" -}}
{{- default (include "tollgate.dataplaneName" .) .Values.dataplane.serviceAccount.name -}}
{{- end -}}

{{/* Cluster-scoped objects carry the release namespace, so that one release per namespace never collides. */}}
{{- define "tollgate.clusterName" -}}
{{- printf "%s-%s-%s" (include "tollgate.operatorName" .root) .root.Release.Namespace .suffix | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "tollgate.dataplaneClusterName" -}}
{{- printf "%s-%s" (include "tollgate.dataplaneName" .) .Release.Namespace | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "tollgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: tollgate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tollgate
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: include "tollgate.componentLabels" (dict "root" $ "component" "operator") */}}
{{- define "tollgate.componentLabels" -}}
{{ include "tollgate.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: tollgate
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tollgate.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.operatorUrl" -}}
{{- printf "%s://%s.%s.svc:%d" (ternary "https" "http" .Values.tls.enabled) (include "tollgate.operatorName" .) .Release.Namespace (int .Values.operator.port) -}}
{{- end -}}

{{/* Channel TLS: the data planes' certificate Secret (tls.crt, tls.key, ca.crt), made by the operator or by cert-manager. */}}
{{- define "tollgate.dataplaneTlsSecretName" -}}{{ include "tollgate.fullname" . }}-dataplane-tls{{- end -}}
{{/* cert-manager only: the operator's certificate Secret (with managed TLS the operator issues its own in memory). */}}
{{- define "tollgate.operatorTlsSecretName" -}}{{ include "tollgate.fullname" . }}-operator-tls{{- end -}}
{{- define "tollgate.tlsDir" -}}/var/run/tollgate/tls{{- end -}}
{{/* Probe scheme of the ports that speak the channel's TLS. */}}
{{- define "tollgate.probeScheme" -}}{{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}{{- end -}}

{{/*
Grace period: what a stopping data plane needs, so the kubelet never kills it mid-drain or
mid-report. preStop sleep + drain timeout + usage-report allowance (10 s: the process reports usage
at most until drain start + drain timeout + 10 s, USAGE_REPORT_ALLOWANCE_MS in
dataplane/main/shutdown-deadline.ts; change both together) + 5 s to close its clients and exit.
*/}}
{{- define "tollgate.dataplaneGracePeriod" -}}
{{- $dp := .Values.dataplane -}}
{{- $usageReportAllowance := 10 -}}
{{- $exitMargin := 5 -}}
{{- $needed := add $dp.preStopDelaySeconds $dp.drainTimeoutSeconds $usageReportAllowance $exitMargin -}}
{{- if kindIs "invalid" $dp.terminationGracePeriodSeconds -}}
{{- $needed -}}
{{- else if lt (int $dp.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "dataplane.terminationGracePeriodSeconds (%d) must be at least dataplane.preStopDelaySeconds + dataplane.drainTimeoutSeconds + 15 (%d: 10 s to report usage, 5 s to exit), or the kubelet kills the data plane while it still drains or reports usage" (int $dp.terminationGracePeriodSeconds) (int $needed)) -}}
{{- else -}}
{{- $dp.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by both components: log level, OpenTelemetry. */}}
{{- define "tollgate.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
{{- with .root.Values.egress }}
{{- if .allowedHosts }}
- name: TOLLGATE_EGRESS_ALLOW_HOSTS
  value: {{ join "," .allowedHosts | quote }}
{{- end }}
{{- if .allowedCIDRs }}
- name: TOLLGATE_EGRESS_ALLOW_CIDRS
  value: {{ join "," .allowedCIDRs | quote }}
{{- end }}
{{- end }}
{{- with .root.Values.otel }}
{{- if .endpoint }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "tollgate-%s" $.component | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .endpoint | quote }}
{{- if .headersSecret.name }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .headersSecret.name }}
      key: {{ .headersSecret.key }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod scheduling fields shared by both Deployments: include "tollgate.scheduling" (dict "root" $ "component" "dataplane" "values" .Values.dataplane) */}}
{{- define "tollgate.scheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range .values.topologySpreadConstraints }}
{{- $c := . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $c = merge (dict "labelSelector" (dict "matchLabels" (include "tollgate.selectorLabels" $ | fromYaml))) $c }}
{{- end }}
  - {{- toYaml $c | nindent 4 }}
{{- end }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Env of the budget mode: with budgets.mode exact, TOLLGATE_BUDGET_MODE and the Redis URL (data planes and operator). */}}
{{- define "tollgate.budgetEnv" -}}
{{- if eq .Values.budgets.mode "exact" }}
{{- if not (or .Values.redis.existingSecret.name .Values.redis.url) }}
{{- fail "budgets.mode exact needs Redis: set redis.url or redis.existingSecret.name" }}
{{- end }}
- name: TOLLGATE_BUDGET_MODE
  value: exact
- name: TOLLGATE_BUDGET_HOLD_TIMEOUT_MS
  value: {{ mul .Values.budgets.holdTimeoutSeconds 1000 | quote }}
{{- end }}
{{- end -}}

{{/* TOLLGATE_REDIS_URL from redis.existingSecret or redis.url, when either is set. */}}
{{- define "tollgate.redisUrlEnv" -}}
{{- if .Values.redis.existingSecret.name }}
- name: TOLLGATE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret.name }}
      key: {{ .Values.redis.existingSecret.key }}
{{- else if .Values.redis.url }}
- name: TOLLGATE_REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end -}}
