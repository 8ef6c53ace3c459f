export default definePageConfig({
  navigationBarTitleText: 'mp-session',
});
