/** The one way this stack makes a bucket: private, encrypted, TLS-only, retained on stack deletion. */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface SecureBucketProps {
  /** Keep every version of every object (results and artifacts: true). */
  versioned: boolean;
  /** Rules added to the defaults (abort incomplete multipart uploads after 7 days). */
  lifecycleRules?: s3.LifecycleRule[];
  /** Days before non-current versions expire (versioned buckets only). */
  noncurrentVersionDays?: number;
  /** Publish object events to EventBridge (set on the CfnBucket: eventBridgeEnabled would add a custom resource). */
  eventBridge?: boolean;
}

export class SecureBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const rules: s3.LifecycleRule[] = [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }];
    if (props.versioned && props.noncurrentVersionDays !== undefined) {
      rules.push({ id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays) });
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: props.versioned,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [...rules, ...(props.lifecycleRules ?? [])],
      // Data and results outlive the stack; `cdk destroy` leaves the buckets behind.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (props.eventBridge) {
      const cfn = this.bucket.node.defaultChild as s3.CfnBucket;
      cfn.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    }
  }
}
