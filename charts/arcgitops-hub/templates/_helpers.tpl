{{- define "hub.name" -}}{{ .Release.Name }}{{- end -}}

{{- define "hub.selectorLabels" -}}
app.kubernetes.io/name: arcgitops-hub
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hub.labels" -}}
{{ include "hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* hub.tlsSecret is the Secret the hub serves HTTPS with. */}}
{{- define "hub.tlsSecret" -}}
{{- if .Values.tls.certManager.enabled -}}{{ include "hub.name" . }}-tls{{- else -}}{{ required "tls.secretName is required (a kubernetes.io/tls Secret), or set tls.certManager.enabled" .Values.tls.secretName }}{{- end -}}
{{- end -}}

{{/* hub.host is externalURL's host. */}}
{{- define "hub.host" -}}{{ (urlParse .Values.externalURL).host | splitList ":" | first }}{{- end -}}
