import { View, Text } from '@tarojs/components';

export default function Index() {
  return (
    <View>
      <Text>mp-session Taro fixture</Text>
    </View>
  );
}
