// The privacy prompt (隐私协议, base library >= 2.32.3). WeChat asks the mini-program before an API
// that touches personal data (phone number, avatar, nickname) runs for a user who has not agreed
// yet: wx.onNeedPrivacyAuthorization hands over `resolve`, the popup shows, and the user's answer
// resolves it; the API then continues (agree) or fails (disagree). One handler serves the app, so
// the component registers it while it is on screen.
Component({
  data: {
    show: false,
    contractName: '隐私保护指引',
  },

  lifetimes: {
    attached() {
      if (typeof wx.getPrivacySetting === 'function') {
        wx.getPrivacySetting({
          success: (res) => this.setData({ contractName: res.privacyContractName || this.data.contractName }),
        });
      }
      if (typeof wx.onNeedPrivacyAuthorization === 'function') {
        wx.onNeedPrivacyAuthorization((resolve) => {
          this.resolve = resolve;
          this.setData({ show: true });
        });
      }
    },
  },

  methods: {
    // bindagreeprivacyauthorization of the open-type="agreePrivacyAuthorization" button.
    onAgree() {
      this.answer({ buttonId: 'privacy-agree', event: 'agree' });
    },

    onDisagree() {
      this.answer({ event: 'disagree' });
    },

    onOpenContract() {
      wx.openPrivacyContract({});
    },

    answer(result) {
      const resolve = this.resolve;
      this.resolve = null;
      this.setData({ show: false });
      if (resolve) resolve(result);
      this.triggerEvent('answer', { agreed: result.event === 'agree' });
    },
  },
});
