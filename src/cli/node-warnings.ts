/**
 * The AWS SDK v3 warns once per process through process.emitWarning that its releases after
 * January 2027 need Node 22: nine lines on stderr at the first S3 or Batch call of every
 * command. This project runs on Node 20.19 or later (package.json `engines`) with SDK versions
 * pinned in the lockfile that support it, so the warning tells a user nothing they can act
 * on. The SDK's own switch turns off that one warning (@aws-sdk/core's
 * emitWarningIfUnsupportedVersion reads it); every other warning still prints. Set here, it
 * also reaches the trainer processes the local pipeline starts, which inherit the environment.
 */
export const AWS_SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** Turns the SDK's Node-version warning off unless the person set the switch themselves. */
export function silenceAwsSdkNodeVersionWarning(env: NodeJS.ProcessEnv = process.env): void {
  if (env[AWS_SDK_NODE_WARNING_SWITCH] === undefined) env[AWS_SDK_NODE_WARNING_SWITCH] = 'true';
}
