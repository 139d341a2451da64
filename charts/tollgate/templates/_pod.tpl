{{/* Volumes and mounts every pod has: the admin token file and a writable /tmp (the root filesystem is read-only). */}}
{{- define "tollgate.volumes" -}}
- name: admin-token
  secret:
    secretName: {{ include "tollgate.adminTokenSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.adminToken.key }}
        path: token
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "tollgate.volumeMounts" -}}
- name: admin-token
  mountPath: /var/run/tollgate/admin-token
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Rolls the pods when a generated admin token changes (it only does when its Secret was deleted). */}}
{{- define "tollgate.podAnnotations" -}}
{{- $secret := "" -}}
{{- if not .root.Values.adminToken.existingSecret -}}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace (include "tollgate.adminTokenSecretName" .root) -}}
{{- if $live -}}{{- $secret = index (default dict $live.data) .root.Values.adminToken.key | default "" -}}{{- end -}}
{{- end -}}
{{- with $secret }}
checksum/admin-token: {{ sha256sum . }}
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
