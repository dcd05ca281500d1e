{{- define "auditpipe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "auditpipe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "auditpipe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "auditpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "auditpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "auditpipe.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "auditpipe.secretName" -}}
{{- if .Values.secrets.create -}}
{{- printf "%s-keys" (include "auditpipe.fullname" .) -}}
{{- else -}}
{{- required "secrets.existingSecret names the Secret with the keys (or set secrets.create)" .Values.secrets.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "auditpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "auditpipe.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "auditpipe.s3Endpoints" -}}
{{- $m := dict -}}
{{- range .Values.s3.regions -}}
{{- if .endpoint }}{{- $_ := set $m .name .endpoint -}}{{- end -}}
{{- end -}}
{{- if $m }}{{ toJson $m }}{{ end -}}
{{- end -}}

{{/*
The workloads: one per stage, one archiver per region. Each: name, component, group (the
consumer group, also KEDA's), topic (KEDA's lag topic; empty = all the group's topics), args,
values (the stage's block).
*/}}
{{- define "auditpipe.workloads" -}}
{{- $w := list -}}
{{- if .Values.sanitizer.enabled -}}
{{- $w = append $w (dict "name" "sanitizer" "component" "sanitizer" "group" "auditpipe-sanitizer" "topic" "" "args" (list "run" "sanitizer") "values" .Values.sanitizer) -}}
{{- end -}}
{{- if .Values.detector.enabled -}}
{{- $w = append $w (dict "name" "detector" "component" "detector" "group" "auditpipe-detector" "topic" "audit.events" "args" (list "run" "detector") "values" .Values.detector) -}}
{{- end -}}
{{- if .Values.router.enabled -}}
{{- $w = append $w (dict "name" "router" "component" "router" "group" "auditpipe-router" "topic" "audit.router.by-rule" "args" (list "run" "router") "values" .Values.router) -}}
{{- end -}}
{{- if .Values.archiver.enabled -}}
{{- range .Values.s3.regions -}}
{{- $w = append $w (dict "name" (printf "archiver-%s" .name) "component" "archiver" "group" (printf "auditpipe-archiver-%s" .name) "topic" "audit.events" "args" (list "run" "archiver" "--region" .name) "values" $.Values.archiver) -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "items" $w) -}}
{{- end -}}

{{- define "auditpipe.env" -}}
- name: AUDITPIPE_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: AUDITPIPE_SCHEMA_REGISTRY_URL
  value: {{ .Values.schemaRegistry.url | quote }}
{{- with include "auditpipe.s3Endpoints" . }}
- name: AUDITPIPE_S3_ENDPOINTS
  value: {{ . | quote }}
{{- end }}
- name: AUDITPIPE_ARCHIVE__BUCKET_PREFIX
  value: {{ .Values.s3.bucketPrefix | quote }}
- name: AUDITPIPE_TOPICS__PARTITIONS
  value: {{ .Values.topics.partitions | quote }}
- name: AUDITPIPE_HEALTH__HOST
  value: "0.0.0.0"
- name: AUDITPIPE_HEALTH__PORT
  value: {{ .Values.health.port | quote }}
- name: AUDITPIPE_HMAC_KEY
  valueFrom: {secretKeyRef: {name: {{ include "auditpipe.secretName" . }}, key: hmac-key}}
- name: AUDITPIPE_DLQ_KEY
  valueFrom: {secretKeyRef: {name: {{ include "auditpipe.secretName" . }}, key: dlq-key}}
- name: AUDITPIPE_ARCHIVE__SIGNING_KEY
  value: /etc/auditpipe/keys/archive-signing-key.pem
- name: AUDITPIPE_S3_ACCESS_KEY_ID
  valueFrom: {secretKeyRef: {name: {{ include "auditpipe.secretName" . }}, key: s3-access-key-id, optional: true}}
- name: AUDITPIPE_S3_SECRET_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ include "auditpipe.secretName" . }}, key: s3-secret-access-key, optional: true}}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "auditpipe.rulesItems" -}}
{{- range $path, $_ := .Files.Glob "files/rules/**" }}
- key: {{ trimPrefix "files/rules/" $path | replace "/" "__" }}
  path: {{ trimPrefix "files/rules/" $path }}
{{- end }}
{{- end -}}
