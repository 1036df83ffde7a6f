#!/usr/bin/env bash
# Puts every image the CDK stack runs into the account's ECR, where its tasks
# pull them with their execution roles (never from Docker Hub through the
# NAT): the alloy-custom image built by `make image`, and the third-party
# images pinned in deploy/images.txt, each as <ECR_PREFIX>/<name>:<tag>.
# Creates missing repositories (immutable tags, scan on push) and skips tags
# already there, so it can run again safely.
#
#   scripts/push-images.sh LOCAL_IMAGE TAG
#     LOCAL_IMAGE  the image `make image IMAGE=...` built, e.g. alloy-curated:v1.19.0-curated.abc1234
#     TAG          its tag in ECR, the stack's AlloyImageTag parameter
#
# Environment: AWS_REGION (default: the AWS CLI's region; must be the
# stack's), ECR_PREFIX (default alloy-curated, the stack's ecrPrefix),
# CONTAINER_TOOL (docker or buildah; default: docker when its engine runs;
# STORAGE_DRIVER=vfs for an image that `make image-local` built),
# DRY_RUN=1 prints the commands instead (AWS_ACCOUNT_ID then saves the STS
# call). deploy/hardening_test.go checks the dry run against the stack.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	sed -n '9,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
local_image=$1 tag=$2
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=${ECR_PREFIX:-alloy-curated}
dry=${DRY_RUN:-}

run() {
	if [[ -n $dry ]]; then
		echo "+ $*"
	else
		"$@"
	fi
}

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [[ -z $region && -z $dry ]]; then
	region=$(aws configure get region || true)
fi
[[ -n $region ]] || { echo "push-images: set AWS_REGION to the stack's region" >&2; exit 2; }
account=${AWS_ACCOUNT_ID:-}
if [[ -z $account ]]; then
	account=$(aws sts get-caller-identity --query Account --output text)
fi
registry="$account.dkr.ecr.$region.amazonaws.com"

tool=${CONTAINER_TOOL:-}
if [[ -z $tool ]]; then
	if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
		tool=docker
	elif command -v buildah >/dev/null 2>&1; then
		tool=buildah
	else
		echo "push-images: needs docker with a running engine, or buildah" >&2
		exit 1
	fi
fi
case $tool in docker | buildah) ;; *) echo "push-images: CONTAINER_TOOL must be docker or buildah" >&2; exit 2 ;; esac

# Preflight for a fresh account: the service-linked roles ECS and its
# autoscaling act through exist only once something created them, and a
# first `cdk deploy` without them fails ("Unable to assume the service
# linked role") and rolls back, leaving its retained resources behind.
# Create each once; an existing one is left alone.
ensure_service_role() {
	if [[ -n $dry ]] || ! aws iam get-role --role-name "$1" >/dev/null 2>&1; then
		run aws iam create-service-linked-role --aws-service-name "$2"
	fi
}
ensure_service_role AWSServiceRoleForECS ecs.amazonaws.com
ensure_service_role AWSServiceRoleForApplicationAutoScaling_ECSService ecs.application-autoscaling.amazonaws.com

if [[ -z $dry ]]; then
	aws ecr get-login-password --region "$region" | $tool login --username AWS --password-stdin "$registry"
fi

# ensure_repo creates <prefix>/<name> unless it exists; exists_tag tells
# whether a tag is already pushed (tags are immutable).
ensure_repo() {
	if [[ -n $dry ]] || ! aws ecr describe-repositories --region "$region" --repository-names "$1" >/dev/null 2>&1; then
		run aws ecr create-repository --region "$region" --repository-name "$1" \
			--image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true \
			--encryption-configuration encryptionType=AES256 --query repository.repositoryUri --output text
	fi
}
exists_tag() {
	[[ -z $dry ]] && aws ecr describe-images --region "$region" --repository-name "$1" --image-ids "imageTag=$2" >/dev/null 2>&1
}

# push SOURCE NAME TAG: SOURCE is a local image (local=1) or a registry
# reference to mirror, for linux/amd64 as the task definitions ask.
push() {
	local source=$1 name=$2 tag=$3 local=${4:-}
	local repo="$prefix/$name" dest="$registry/$prefix/$name:$tag"
	ensure_repo "$repo"
	if exists_tag "$repo" "$tag"; then
		echo "push-images: $repo:$tag is already in ECR"
		return
	fi
	if [[ $tool == docker ]]; then
		[[ -n $local ]] || run docker pull --platform linux/amd64 "$source"
		run docker tag "$source" "$dest"
		run docker push "$dest"
	else
		[[ -n $local ]] || run buildah pull --platform linux/amd64 "$source"
		run buildah push "$source" "docker://$dest"
	fi
	echo "push-images: pushed $dest"
}

push "$local_image" alloy-custom "$tag" local
while read -r name source; do
	[[ -z $name || $name == \#* ]] && continue
	push "$source" "$name" "${source##*:}"
done <"$here/deploy/images.txt"
