// The exact commands that install what an SSM session needs on the operator's machine, for the
// machine doctor runs on, as AWS documents them:
// - AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html
// - Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html
// Pure: the platform and architecture are arguments.

export const AWS_CLI_DOCS = 'https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html';
export const PLUGIN_DOCS = 'https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html';

/** The AWS CLI v2's installer for this machine. */
export function awsCliInstall(platform: string, arch: string): string {
  if (platform === 'linux') {
    const zip = arch === 'arm64' ? 'awscli-exe-linux-aarch64.zip' : 'awscli-exe-linux-x86_64.zip';
    return `curl -fsSL "https://awscli.amazonaws.com/${zip}" -o awscliv2.zip && unzip -q awscliv2.zip && sudo ./aws/install (${AWS_CLI_DOCS})`;
  }
  if (platform === 'darwin') return `curl -fsSL "https://awscli.amazonaws.com/AWSCLIV2.pkg" -o AWSCLIV2.pkg && sudo installer -pkg AWSCLIV2.pkg -target / (${AWS_CLI_DOCS})`;
  return `install the AWS CLI v2: ${AWS_CLI_DOCS}`;
}

/** The Session Manager plugin's package for this machine (Debian and Ubuntu's .deb on Linux). */
export function pluginInstall(platform: string, arch: string): string {
  if (platform === 'linux') {
    const dir = arch === 'arm64' ? 'ubuntu_arm64' : 'ubuntu_64bit';
    return `curl -fsSL "https://s3.amazonaws.com/session-manager-downloads/plugin/latest/${dir}/session-manager-plugin.deb" -o session-manager-plugin.deb && sudo dpkg -i session-manager-plugin.deb (Debian and Ubuntu; other systems: ${PLUGIN_DOCS})`;
  }
  if (platform === 'darwin') {
    const dir = arch === 'arm64' ? 'mac_arm64' : 'mac';
    return `curl -fsSL "https://s3.amazonaws.com/session-manager-downloads/plugin/latest/${dir}/session-manager-plugin.pkg" -o session-manager-plugin.pkg && sudo installer -pkg session-manager-plugin.pkg -target / && sudo ln -s /usr/local/sessionmanagerplugin/bin/session-manager-plugin /usr/local/bin/session-manager-plugin (${PLUGIN_DOCS})`;
  }
  return `install the Session Manager plugin: ${PLUGIN_DOCS}`;
}
