{{/* The manager's name: fixed, because the admission policy and the RBAC name its ServiceAccount. */}}
{{- define "fluxconfig.name" -}}fluxconfig-manager{{- end -}}

{{- define "fluxconfig.labels" -}}
app.kubernetes.io/name: fluxconfig-manager
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "fluxconfig.selector" -}}
app.kubernetes.io/name: fluxconfig-manager
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fluxconfig.agentSecret" -}}
{{- if .Values.agent.existingSecret -}}{{ .Values.agent.existingSecret }}{{- else -}}fluxconfig-agent-token{{- end -}}
{{- end -}}

{{- define "fluxconfig.quotedNamespaces" -}}
{{- $q := list -}}
{{- range .Values.multiTenancy.clusterScopeNamespaces -}}{{- $q = append $q (printf "'%s'" .) -}}{{- end -}}
{{- join ", " $q -}}
{{- end -}}
