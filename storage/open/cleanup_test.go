package open

import (
	"context"

	mc "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/huren-health/huren/internal/testbackend"
)

func minioRemoveBucket(ctx context.Context, be testbackend.S3, bucket string) error {
	c, err := mc.New(be.Endpoint, &mc.Options{Creds: credentials.NewStaticV4(be.AccessKey, be.SecretKey, "")})
	if err != nil {
		return err
	}
	objs := c.ListObjects(ctx, bucket, mc.ListObjectsOptions{Recursive: true})
	for e := range c.RemoveObjects(ctx, bucket, objs, mc.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return e.Err
		}
	}
	return c.RemoveBucket(ctx, bucket)
}
