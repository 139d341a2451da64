{{/*
The operator's rules come from files/operator-rules.yaml (shared with the integration tests).
Each rule belongs to one scope, decided by its resources:
  cluster  - namespaces (always a ClusterRole)
  release  - leases, serviceaccounts, and secrets with verb create (a Role in the release namespace)
  watched  - everything else (a ClusterRole when all namespaces are watched, else a Role per namespace)
include "tollgate.operatorRules" (dict "root" $ "scope" "watched") renders the rules of one scope as a YAML list.
*/}}
{{- define "tollgate.ruleScope" -}}
{{- $scopes := dict -}}
{{- $creates := has "create" .verbs -}}
{{- range .resources -}}
{{- $release := or (eq . "leases") (eq . "serviceaccounts") (and (eq . "secrets") $creates) -}}
{{- $_ := set $scopes (ternary "cluster" (ternary "release" "watched" $release) (eq . "namespaces")) true -}}
{{- end -}}
{{- if ne (len $scopes) 1 -}}
{{- fail (printf "files/operator-rules.yaml: a rule mixes scopes %v (resources %v); split it" (keys $scopes | sortAlpha) .resources) -}}
{{- end -}}
{{- keys $scopes | first -}}
{{- end -}}

{{- define "tollgate.operatorRules" -}}
{{- $scope := .scope -}}
{{- $rules := list -}}
{{- range (.root.Files.Get "files/operator-rules.yaml" | fromYamlArray) -}}
{{- if eq (include "tollgate.ruleScope" .) $scope -}}
{{- $rules = append $rules . -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* The rules for the data-plane EndpointSlices, needed in the release namespace when it is not watched. */}}
{{- define "tollgate.endpointSliceRules" -}}
{{- $rules := list -}}
{{- range (.Files.Get "files/operator-rules.yaml" | fromYamlArray) -}}
{{- if has "endpointslices" .resources -}}
{{- $rules = append $rules . -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
