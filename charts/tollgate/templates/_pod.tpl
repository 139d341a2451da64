{{/* Volumes and mounts every pod has: the admin and metrics token files and a writable /tmp (the root filesystem is read-only). */}}
{{- define "tollgate.volumes" -}}
- name: admin-token
  secret:
    secretName: {{ include "tollgate.adminTokenSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.adminToken.key }}
        path: token
- name: metrics-token
  secret:
    secretName: {{ include "tollgate.metricsTokenSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.metricsToken.key }}
        path: token
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "tollgate.volumeMounts" -}}
- name: admin-token
  mountPath: /var/run/tollgate/admin-token
  readOnly: true
- name: metrics-token
  mountPath: /var/run/tollgate/metrics-token
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod annotations. The admin token is read at start; after rotating it (docs/upgrade.md), restart the pods. */}}
{{- define "tollgate.podAnnotations" -}}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
