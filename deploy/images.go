package main

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

//go:embed images.txt
var imagesFile string

// Names of the images in images.txt, plus the one this repository builds.
const (
	imageAlloy        = "alloy-custom"
	imageLoki         = "loki"
	imageGrafana      = "grafana"
	imageAlertmanager = "alertmanager"
	imageBusybox      = "busybox"
	imageFluentBit    = "fluent-bit" // FireLens router, deploy/containerlogs
)

// parseImages reads images.txt: "name upstream-image:tag" per line.
func parseImages(text string) (map[string]string, error) {
	images := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || upstreamTag(f[1]) == "" {
			return nil, fmt.Errorf("images.txt line %d: want `name registry/repository:tag`, got %q", i+1, line)
		}
		if _, dup := images[f[0]]; dup {
			return nil, fmt.Errorf("images.txt line %d: %s listed twice", i+1, f[0])
		}
		images[f[0]] = f[1]
	}
	for _, name := range []string{imageLoki, imageGrafana, imageAlertmanager, imageBusybox, imageFluentBit} {
		if images[name] == "" {
			return nil, fmt.Errorf("images.txt has no %s image", name)
		}
	}
	return images, nil
}

// upstreamTag is the tag of an image reference, "" when it has none.
func upstreamTag(ref string) string {
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash || colon == len(ref)-1 {
		return ""
	}
	return ref[colon+1:]
}

// image is a container image in the account's own ECR, <prefix>/<name>:tag.
// Referencing the repository (rather than a URI string) makes ECS grant the
// task's execution role the pull permissions, which a private image needs.
func (s *services) image(name string, tag *string) awsecs.ContainerImage {
	id := "Ecr" + strings.ReplaceAll(strings.ToUpper(name[:1])+name[1:], "-", "")
	repo, ok := s.repos[name]
	if !ok {
		repo = awsecr.Repository_FromRepositoryName(s.stack, jsii.String(id), jsii.String(s.cfg.ECRPrefix+"/"+name))
		s.repos[name] = repo
	}
	return awsecs.ContainerImage_FromEcrRepository(repo, tag)
}

// mirrored is a third-party image of images.txt, copied into ECR under its
// upstream tag.
func (s *services) mirrored(name string) awsecs.ContainerImage {
	return s.image(name, jsii.String(upstreamTag(s.cfg.Images[name])))
}
