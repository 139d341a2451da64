{{/*
The operator's rules come from files/operator-rules.yaml (shared with the integration tests).
Each rule belongs to one scope, decided by its resources:
  cluster  - namespaces (always a ClusterRole)
  release  - leases, serviceaccounts, and secrets with verb create (a Role in the release namespace;
             get and update only on the names in tollgate.releaseObjectNames)
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
{{- $names := include "tollgate.releaseObjectNames" .root | fromYaml -}}
{{- $rules := list -}}
{{- range (.root.Files.Get "files/operator-rules.yaml" | fromYamlArray) -}}
{{- if eq (include "tollgate.ruleScope" .) $scope -}}
{{- if eq $scope "release" -}}
{{- $rules = concat $rules (include "tollgate.namedRules" (dict "rule" . "names" $names) | fromYamlArray) -}}
{{- else -}}
{{- $rules = append $rules . -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/*
The objects of the release namespace the operator reads and writes by name: its leader-election
Lease, its own ServiceAccount (owner of the Secrets it makes), the API key hash Secret and, with
operator-managed TLS, the channel CA and the data planes' certificate (cmd flags --lease-name,
--legacy-lease-name,
--owner-service-account, --api-key-hash-secret, --tls-secret-prefix). Nothing else there is the
operator's to read: the admin and metrics tokens reach it as mounted files.
*/}}
{{- define "tollgate.releaseObjectNames" -}}
{{- $secrets := list (include "tollgate.apiKeyHashSecretName" .) -}}
{{- if and .Values.tls.enabled (not .Values.tls.certManager.enabled) -}}
{{- $secrets = concat $secrets (list (printf "%s-ca" (include "tollgate.fullname" .)) (printf "%s-dataplane-tls" (include "tollgate.fullname" .))) -}}
{{- end -}}
{{- $leases := compact (list (include "tollgate.leaseName" .) (include "tollgate.legacyLeaseName" .)) -}}
{{- toYaml (dict "leases" $leases "serviceaccounts" (list (include "tollgate.operatorServiceAccountName" .)) "secrets" $secrets) -}}
{{- end -}}

{{/*
One rule of the release scope as RBAC can narrow it: the verbs on one object (get, update, patch,
delete) limited to the names in .names; create, list, watch and deletecollection carry no name RBAC
could check, so they stay a rule of their own.
*/}}
{{- define "tollgate.namedRules" -}}
{{- $rule := .rule -}}
{{- $objects := list -}}
{{- range $rule.resources -}}
{{- if hasKey $.names . -}}
{{- $objects = concat $objects (get $.names .) -}}
{{- end -}}
{{- end -}}
{{- $nameless := list -}}
{{- $named := list -}}
{{- range $rule.verbs -}}
{{- if has . (list "create" "list" "watch" "deletecollection") -}}
{{- $nameless = append $nameless . -}}
{{- else -}}
{{- $named = append $named . -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- if or (not $objects) (not $named) -}}
{{- $out = append $out $rule -}}
{{- else -}}
{{- if $nameless -}}
{{- $out = append $out (merge (dict "verbs" $nameless) (omit $rule "verbs")) -}}
{{- end -}}
{{- $out = append $out (merge (dict "verbs" $named "resourceNames" (uniq $objects)) (omit $rule "verbs")) -}}
{{- end -}}
{{- toYaml $out -}}
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
